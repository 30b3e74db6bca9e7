"""Masking of secrets before anything is stored or logged: keys, tokens, auth headers, URL userinfo."""

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
