"""Checks a request passes before we read its data: rate limits, and what a signed body leaves unsigned."""

from django.conf import settings
from django_ratelimit.core import is_ratelimited


def rate_limited(request, group, value, setting="RECEIVER_RATE_LIMIT"):
    """Count this request against `group`/`value`; True once the rate in `setting` is exceeded (empty: no limit)."""
    rate = getattr(settings, setting)
    if not rate:
        return False
    return is_ratelimited(request, group=group, key=lambda _group, _request: value, rate=rate, increment=True)


def unsigned_parameters(recipe, inbound):
    """Query parameters a signed body leaves unsigned (the key aside): they could be added by anyone."""
    if recipe["scheme"] != "body" or not inbound.body:
        return []
    return sorted(name for name in inbound.query if name != "key")
