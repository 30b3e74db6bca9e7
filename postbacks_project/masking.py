"""Masking of secrets before anything is stored or logged: keys, tokens, auth headers, URL userinfo."""

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_NAME = re.compile(
    r"authorization|cookie|token|secret|password|passwd|api[-_]?key|postback[-_]key|^key$|^sig(nature)?$|^auth", re.I
)


def mask_secret(value):
    """Keep four characters to tell secrets apart; hide the rest."""
    if not value:
        return ""
    return value[:4] + "…" if len(value) > 8 else "…"


def mask_headers(headers):
    """Headers as a dict with lower-case names; values of secret-looking names masked."""
    return {name.lower(): (mask_secret(value) if SECRET_NAME.search(name) else value) for name, value in headers}


def mask_query(query_string):
    pairs = parse_qsl(query_string, keep_blank_values=True)
    if not any(SECRET_NAME.search(name) for name, _ in pairs):
        return query_string
    return urlencode([(name, mask_secret(value) if SECRET_NAME.search(name) else value) for name, value in pairs])


def mask_url(url):
    """The URL with user:password@ and secret-looking query parameters masked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "…@" + netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=netloc, query=mask_query(parts.query)))


# A network's key travels in the path (/postback/<key>/) or as ?key=; neither may reach a log in clear.
KEY_IN_PATH = re.compile(r"(/postback/)([^/?\s\"]+)")
KEY_IN_QUERY = re.compile(r"([?&]key=)([^&\s\"]+)")


def mask_log_text(text):
    text = KEY_IN_PATH.sub(lambda m: m.group(1) + mask_secret(m.group(2)), text)
    return KEY_IN_QUERY.sub(lambda m: m.group(1) + mask_secret(m.group(2)), text)


class MaskSecretsFilter(logging.Filter):
    """Masks postback keys in a log record's final message (Django's request log, gunicorn's access log)."""

    def filter(self, record):
        message = record.getMessage()
        masked = mask_log_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
