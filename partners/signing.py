"""Standard Webhooks signing: secrets (whsec_ + base64) and the three webhook-* headers."""

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


def headers(secret, message_id, timestamp, body):
    """The webhook-id, webhook-timestamp and webhook-signature headers for `body` (bytes)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }
