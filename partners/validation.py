"""Save-time checks of a destination and a partner: templates, headers, terms, secret and the SSRF rule, with
messages that say what to fix."""

import json
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from requests_hardened.ip_filter import InvalidIPAddress, get_ip_address

from receiver.lifecycle import Status
from receiver.params import is_currency_code

from . import signing
from .macros import sample_values
from .models import BodyType, Method, Scope, ShareType
from .templating import SIGNATURE, TemplateError, check, render, signature_parameter

# Importing the transport also extends the blocked ranges to the ones it adds to requests-hardened's filter.
from .transport import failure


def validate_destination(destination):
    """What any destination sends must render and may be sent to: its templates, headers and secret."""
    _raise_for(destination, SENDING_CHECKS)


def validate_partner(partner):
    _raise_for(partner, SENDING_CHECKS + PARTNER_CHECKS)


def _raise_for(destination, checks):
    errors = {}
    for name, check_field in checks:
        try:
            check_field(destination)
        except (TemplateError, ValueError) as exc:
            errors[name] = str(exc)
    if errors:
        raise ValidationError(errors)


def _check_url(partner):
    template = partner.postback_url or ""
    check(template)
    if "{" in urlsplit(template).netloc:
        raise ValueError("the host of a postback URL cannot be a macro")
    if SIGNATURE in template:
        _check_signature(partner, template)
    rendered = render(template, sample_values(partner), "url")
    try:
        URLValidator(schemes=["http", "https"])(rendered)
    except ValidationError:
        raise ValueError(f"not a valid http(s) URL once rendered: {rendered}") from None
    blocked = blocked_address(rendered)
    if blocked:
        raise ValueError(blocked)


def blocked_address(url):
    """The transport's message for a URL whose host is a blocked address; "" when it may be sent to.

    The transport checks again at every send, after its own DNS look-up (a name can change its answer), so this
    check is for a clear message when the address is known to be blocked; a name that does not resolve yet is
    left to the send-time check.
    """
    parts = urlsplit(url)
    if not parts.hostname:
        return ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        get_ip_address(parts.hostname, port, allow_loopback=settings.OUTBOUND_ALLOW_LOOPBACK)
    except InvalidIPAddress as exc:
        return failure(exc)[1]
    except (socket.gaierror, UnicodeError):
        return ""
    return ""


def _check_signature(partner, template):
    name = signature_parameter(template)
    if template.count(SIGNATURE) > 1 or name is None:
        raise ValueError("{signature} goes once, as the whole value of a query parameter, e.g. &sig={signature}")
    names = [part.split("=", 1)[0] for part in urlsplit(template).query.split("&")]
    if names.count(name) > 1:
        raise ValueError(f"the signature's parameter {name!r} appears twice in the URL: the signature leaves out both")
    if not partner.signing_secret:
        raise ValueError("{signature} needs a signing secret: generate one, or give one")


def _check_body(partner):
    template = partner.body_template or ""
    if partner.method == Method.GET:
        if template.strip():
            raise ValueError("a body template needs the POST method")
        return
    check(template)
    if SIGNATURE in template:
        raise ValueError("{signature} signs the URL and goes in it; a body is signed by the webhook-signature header")
    if partner.body_type == BodyType.JSON and template.strip():
        rendered = render(template, sample_values(partner), "json")
        try:
            json.loads(rendered)
        except ValueError as exc:
            raise ValueError(f"not valid JSON once rendered ({exc}): {rendered}") from None


def _check_headers(partner):
    headers = partner.headers
    if not isinstance(headers, dict):
        raise ValueError('headers must be an object such as {"X-Token": "abc"}')
    for name, value in headers.items():
        if not isinstance(value, str) or not name or any(c in name for c in " :\r\n\t"):
            raise ValueError(f"header {name!r} needs a name without spaces or colons and a text value")
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} has a line break in its value")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(f"header {name!r} has characters that HTTP headers cannot carry (latin-1 only)") from None


def _check_scope(partner):
    if partner.scope == Scope.OWN_CLICKS and not partner.slug:
        raise ValueError("receiving only its own clicks needs a slug: clicks name the partner with ?partner=<slug>")


def _check_statuses(partner):
    statuses = partner.statuses
    if not isinstance(statuses, list) or any(s not in Status.values for s in statuses):
        raise ValueError(f"statuses must be a list of {', '.join(Status.values)} (empty: all)")


def _check_share(terms):
    """A partner's or an offer share's terms: a percentage up to 100, a currency only for a fixed amount."""
    if terms.share_type == ShareType.PERCENT and terms.share_value is not None and terms.share_value > 100:
        raise ValueError("a percentage share is between 0 and 100")
    currency = terms.share_currency
    if currency and not is_currency_code(currency):
        raise ValueError(f"the share currency {currency!r} is not a three-letter code such as USD")
    if currency and terms.share_type != ShareType.FIXED:
        raise ValueError("only a fixed share has a currency: a percentage is paid in the payout's")


def check_share_terms(terms):
    """The same check for an offer share: {field: message}, empty when the terms are sound."""
    try:
        _check_share(terms)
    except ValueError as exc:
        return {"share_value": str(exc)}
    return {}


def _check_secret(partner):
    if partner.signing_secret:
        signing.secret_bytes(partner.signing_secret)


SENDING_CHECKS = (
    ("postback_url", _check_url),
    ("body_template", _check_body),
    ("headers", _check_headers),
    ("signing_secret", _check_secret),
)
PARTNER_CHECKS = (("statuses", _check_statuses), ("slug", _check_scope), ("share_value", _check_share))
