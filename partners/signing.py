"""Standard Webhooks signing: secrets (whsec_ + base64), the three webhook-* headers, and the URL signature."""

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
MIN_SECRET_BYTES = 24


def generate_secret():
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_bytes(secret):
    """Decode a whsec_ secret; ValueError with the reason if it is not one."""
    if not secret.startswith(PREFIX):
        raise ValueError("a signing secret starts with whsec_ followed by base64")
    try:
        raw = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except ValueError:
        raise ValueError("the part after whsec_ is not valid base64") from None
    if len(raw) < MIN_SECRET_BYTES:
        raise ValueError(f"a signing secret needs at least {MIN_SECRET_BYTES} random bytes, this one has {len(raw)}")
    return raw


def headers(keys, message_id, timestamp, body):
    """The webhook-id, webhook-timestamp and webhook-signature headers for `body` (bytes), signed with each of
    `keys` (a list of secrets, or one): space-separated `v1,` entries, any of which a receiver may verify."""
    if isinstance(keys, str):
        keys = [keys]
    signed = f"{message_id}.{timestamp}.".encode() + body
    signatures = [
        "v1," + base64.b64encode(hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()).decode()
        for secret in keys
    ]
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": " ".join(signatures)}


def _is_parameter(part, name):
    return part.split("=", 1)[0] == name


def url_message(url, name):
    """What a URL signature covers: the URL without its fragment and without every `name=` query part, as text.

    The parts are removed as text, the way the receiver's `url` recipe removes a network's signature, so the
    partner checks exactly the bytes it was sent, whatever their encoding.
    """
    base, _, query = url.split("#", 1)[0].partition("?")
    kept = "&".join(part for part in query.split("&") if part and not _is_parameter(part, name))
    return base + ("?" + kept if kept else "")


def url_signature(secret, url, name):
    """Hex HMAC-SHA256 of `url_message`, keyed with the secret as written (a `url` recipe with sha256 and hex)."""
    return hmac.new(secret.encode(), url_message(url, name).encode(), hashlib.sha256).hexdigest()


def sign_url(secret, url, name):
    """`url`, rendered with an empty `name=`, with its signature filled into that parameter."""
    signature = url_signature(secret, url, name)
    address, hash_mark, fragment = url.partition("#")
    base, question_mark, query = address.partition("?")
    parts = [f"{name}={signature}" if _is_parameter(part, name) else part for part in query.split("&")]
    return base + question_mark + "&".join(parts) + hash_mark + fragment
