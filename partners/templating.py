"""The one renderer: `{macro}` placeholders filled in a single pass, escaped for where they land.

Only `{name}` where name is a known macro (or `custom.KEY`) is a placeholder; every other brace
is literal, so a JSON body template is written as plain JSON. Values are never expanded again:
a value that itself contains `{click_id}` stays as it is.
"""

import json
import re
from urllib.parse import quote, quote_plus

MACROS = {
    "click_id": "the click id the network sent",
    "status": "approved, pending, rejected or reversed",
    "payout": "the partner's share this event credits or takes back (always positive), rounded to the currency's "
    "minor unit; an adjustment's: the new share",
    "previous_payout": "what the partner held from the conversion before this event",
    "payout_delta": "the signed change to what the partner holds: +credit, -take-back, 0",
    "effect": "credit, debit (a take-back) or none (pending)",
    "gross_payout": "what the network paid us, on the partner's payout basis",
    "currency": "three-letter currency code",
    "offer_id": "our offer id",
    "offer_name": "our offer name",
    "conversion_id": "our conversion id",
    "transaction_id": "the network's transaction id",
    "goal": "the goal or event of the conversion (a claim's goal, else the network's), e.g. install",
    "conversion_type": "install, sale, signup... as the network or the claim named it",
    "user_id": "the user the conversion belongs to",
    "username": "the user's name (custom data username, else the user id)",
    "points": "points for the user at the partner's rate",
    "network": "the network's name",
    **{
        f"sub{i}": f"passthrough value {i}: the network's sub{i} (or its own name for it, e.g. sub_id, pub{i - 1}), "
        f"else our click's sub{i}"
        for i in range(1, 6)
    },
    "event": "conversion, status_change, adjustment or test",
    "timestamp": "unix time of the event",
    "iso_time": "ISO 8601 time of the event",
    # Made per request by outbound.build_request, not from the event: the signature covers the rendered URL.
    "signature": "HMAC-SHA256 (hex) of the URL as sent without this parameter, keyed with the signing secret; "
    "the whole value of one query parameter, e.g. &sig={signature}",
    "signature_ts": "unix time the request was signed (the webhook-timestamp header)",
}
SIGNATURE = "{signature}"
CUSTOM_PREFIX = "custom."
PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.]+)\}")
# `{name` not closed by `}`: a typo that would otherwise go out as literal text.
UNCLOSED = re.compile(r"\{([A-Za-z0-9_.]+)(?=[^A-Za-z0-9_.}]|$)")


# `?name={signature}` or `&name={signature}`, ending the parameter: the only place the URL signature may stand.
SIGNATURE_PARAMETER = re.compile(r"[?&]([^=&?#]+)=" + re.escape(SIGNATURE) + r"(?=[&#]|$)")


class TemplateError(ValueError):
    pass


def is_macro(name):
    return name in MACROS or (name.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX))


def known_macros_text():
    return ", ".join("{" + name + "}" for name in MACROS) + ", {custom.KEY}"


def check(template):
    """Raise TemplateError for an unknown macro or an unclosed brace, naming the macros we know."""
    unknown = sorted({name for name in PLACEHOLDER.findall(template) if not is_macro(name)})
    if unknown:
        names = ", ".join("{" + name + "}" for name in unknown)
        raise TemplateError(f"unknown macro {names}; known macros: {known_macros_text()}")
    unclosed = UNCLOSED.search(template)
    if unclosed and is_macro(unclosed.group(1)):
        raise TemplateError(f"macro {{{unclosed.group(1)} is not closed with '}}'")


def signature_parameter(template):
    """The query parameter whose whole value is `{signature}`, or None."""
    found = SIGNATURE_PARAMETER.search(template)
    return found.group(1) if found else None


def _lookup(values, name):
    if name.startswith(CUSTOM_PREFIX):
        value = values.get("custom", {}).get(name[len(CUSTOM_PREFIX) :], "")
    else:
        value = values.get(name, "")
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else str(value)


# The path of a URL template: after scheme://host, up to the query or the fragment.
URL_PATH = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://[^/?#]*)?([^?#]*)")

ESCAPES = {
    "url": lambda text: quote(text, safe=""),
    "form": quote_plus,
    "json": lambda text: json.dumps(text)[1:-1],
    "raw": lambda text: text,
}


def render(template, values, escape="url"):
    """Fill each known placeholder with its value escaped for `escape` (url, form, json or raw).

    In a URL, values in the path also have their dots encoded (`..` is `%2E%2E`); query values are as `url` makes them.
    """
    escaper = ESCAPES[escape]
    path_start, path_end = URL_PATH.match(template).span(1) if escape == "url" else (0, 0)

    def fill(match):
        name = match.group(1)
        if not is_macro(name):
            return match.group(0)
        value = _lookup(values, name)
        if path_start <= match.start() < path_end:
            # The HTTP client resolves "." and ".." segments away: a value in the path stays a literal segment.
            return quote(value, safe="").replace(".", "%2E")
        return escaper(value)

    return PLACEHOLDER.sub(fill, template)
