"""Masking of secrets before anything is stored or logged: keys, tokens, auth headers, URL userinfo."""

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# A name is secret-looking when it contains one of the words in the first line, or has key or auth as one of
# its parts (X-Auth-Key, partner_key; not "monkey"). Signature headers (X-Signature, webhook-signature) are
# kept: they prove one message and cannot sign another, and partners debug verification with them.
SECRET_NAME = re.compile(
    r"authorization|cookie|token|secret|password|passwd|credential|api[-_]?key|postback[-_]key|^auth|^sig(nature)?$"
    r"|(?:^|[-_.])(?:key|auth)(?:[-_.]|$)",
    re.I,
)


def mask_secret(value):
    """Keep four characters to tell secrets apart; hide the rest."""
    if not value:
        return ""
    return value[:4] + "…" if len(value) > 8 else "…"


def secret(name, also=()):
    """Whether a header or parameter name holds a secret: secret-looking, or one of `also` (lower case)."""
    return bool(SECRET_NAME.search(name)) or name.lower() in also


def mask_headers(headers, also=()):
    """Headers as a dict with lower-case names; values of secret-looking names (and of `also`) masked."""
    return {name.lower(): (mask_secret(value) if secret(name, also) else value) for name, value in headers}


def mask_query(query_string, also=()):
    pairs = parse_qsl(query_string, keep_blank_values=True)
    if not any(secret(name, also) for name, _ in pairs):
        return query_string
    return urlencode([(name, mask_secret(value) if secret(name, also) else value) for name, value in pairs])


def mask_url(url):
    """The URL with user:password@ and secret-looking query parameters masked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "…@" + netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=netloc, query=mask_query(parts.query)))


# A network's key travels in the path (/postback/<key>/) or as ?key=; neither may reach a log in clear. Nor may
# any secret-looking query parameter of any URL in a log line: urllib3 logs each partner request line at DEBUG.
KEY_IN_PATH = re.compile(r"(/postback/)([^/?\s\"']+)")
QUERY_PARAMETER = re.compile(r"([?&])([^=&?#\s\"']+)=([^&#\s\"']+)")


def _mask_once(value):
    """Masked, unless it already is: a record may pass this filter twice."""
    return value if value.endswith("…") else mask_secret(value)


def _mask_parameter(match):
    separator, name, value = match.groups()
    return f"{separator}{name}={_mask_once(value) if SECRET_NAME.search(name) else value}"


def mask_log_text(text):
    text = KEY_IN_PATH.sub(lambda m: m.group(1) + _mask_once(m.group(2)), text)
    return QUERY_PARAMETER.sub(_mask_parameter, text)


class MaskSecretsFilter(logging.Filter):
    """Masks keys and secret-looking URL parameters in a log record's message and its traceback (Django's request
    log, the receiver's errors, urllib3's request lines, gunicorn's access log)."""

    def filter(self, record):
        message = record.getMessage()
        masked = mask_log_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # An exception's message may quote the URL: the formatter prints this text instead of formatting again.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_log_text(record.exc_text)
        return True
