"""A network's acknowledgements: the exact answer it checks for each outcome (`1`, `OK`, `DUP`), as data."""

import re

from django.http import HttpResponse

# What a network can be answered its own way; anything else keeps the JSON contract (a 429 or 503 must stay
# one, or the network would stop retrying a postback we never processed).
OUTCOMES = {
    "accepted": "a new conversion",
    "status_change": "a status change",
    "adjustment": "a payout change",
    "duplicate": "a duplicate (or a refused status change): always a success, so that it is not sent again",
    "rejected": "invalid input (answered 200 by default)",
    "bad_signature": "a missing or wrong signature (401 by default)",
}
CONTENT_TYPE = "text/plain; charset=utf-8"
BODY_LIMIT = 1000
# {name} in a body stands for the value of the network's own parameter `name` (ironSource's {eventId}:OK).
PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.\-]+)\}")
VALUE_LIMIT = 200


class AckError(ValueError):
    """Acknowledgements that cannot be used: the message names the outcome and the key."""


def validate(acks):
    """`acks` with their defaults filled in, or AckError."""
    if not isinstance(acks, dict):
        raise AckError('acknowledgements are a JSON object such as {"accepted": {"body": "1"}}')
    clean = {}
    for outcome, ack in acks.items():
        if outcome not in OUTCOMES:
            raise AckError(f"{outcome!r} is not an outcome; use {', '.join(OUTCOMES)}")
        if not isinstance(ack, dict) or set(ack) - {"status", "body", "content_type"}:
            raise AckError(f"{outcome}: an acknowledgement has status, body and content_type")
        status, body = ack.get("status", 200), ack.get("body", "")
        if not (isinstance(status, int) and not isinstance(status, bool) and 200 <= status <= 599):
            raise AckError(f"{outcome}: status {status!r} is not an HTTP status from 200 to 599")
        if outcome == "duplicate" and status >= 300:
            raise AckError("duplicate: a duplicate is always acknowledged as a success (2xx), or it is sent again")
        if not isinstance(body, str) or len(body) > BODY_LIMIT:
            raise AckError(f"{outcome}: body is a text of at most {BODY_LIMIT} characters")
        content_type = ack.get("content_type", CONTENT_TYPE)
        if not isinstance(content_type, str) or not content_type or "\n" in content_type:
            raise AckError(f"{outcome}: content_type is one header value, e.g. text/plain")
        clean[outcome] = {"status": status, "body": body, "content_type": content_type}
    return clean


def lookup(network, outcome):
    """The network's own acknowledgement of `outcome`, or None (the JSON contract answers)."""
    if network is None or not network.acknowledgements or outcome is None:
        return None
    return network.acks.get(outcome)


def respond(ack, default, params=None):
    """The acknowledgement as the answer, its {name} placeholders filled from the postback's `params`, or `default`
    when there is none. A parameter the postback lacks (or a list or object) leaves the placeholder empty."""
    if ack is None:
        return default
    body = PLACEHOLDER.sub(lambda match: _value((params or {}).get(match.group(1))), ack["body"])
    return HttpResponse(body, status=ack["status"], content_type=ack["content_type"])


def _value(value):
    return str(value)[:VALUE_LIMIT] if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
