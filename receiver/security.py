"""Checks a request passes before we read its data: allowlist, rate limits, HMAC signature."""

import hashlib
import hmac

from django.conf import settings
from django_ratelimit.core import is_ratelimited


def rate_limited(request, group, value, setting="RECEIVER_RATE_LIMIT"):
    """Count this request against `group`/`value`; True once the rate in `setting` is exceeded (empty: no limit)."""
    rate = getattr(settings, setting)
    if not rate:
        return False
    return is_ratelimited(request, group=group, key=lambda _group, _request: value, rate=rate, increment=True)


def signed_message(inbound):
    """The bytes a network signs: the raw body, or the raw query string when there is no body."""
    return inbound.body if inbound.body else inbound.query_string.encode()


def signature_valid(secret, inbound):
    given = inbound.header("x-signature").strip()
    if given.lower().startswith("sha256="):
        given = given[7:]
    if not given or not given.isascii():  # no digest has a non-ASCII character, and compare_digest raises on one
        return False
    expected = hmac.new(secret.encode(), signed_message(inbound), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), given.lower().encode())


def unsigned_parameters(network, inbound):
    """Query parameters a signed body leaves unsigned (the key aside): they could be added by anyone."""
    if not network.hmac_secret or not inbound.body:
        return []
    return sorted(name for name in inbound.query if name != "key")
