"""The one HTTP door out: SSRF-filtered, no redirects, bounded timeouts; returns a result, never raises."""

import ipaddress
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from http.client import RemoteDisconnected
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit
from urllib.request import getproxies_environment, proxy_bypass_environment

import requests
from django.conf import settings
from django.utils import timezone
from requests_hardened import Config, HTTPSession, ip_filter
from requests_hardened.ip_filter import InvalidIPAddress

from postbacks_project.masking import mask_log_text

USER_AGENT = "postback-hub/1.0 (+server-to-server postback)"
RESPONSE_LIMIT = 1024
# Bodies up to this size are read whole, so that the kept-alive connection can be reused.
READ_LIMIT = 64 * 1024
TRUNCATED = "…[truncated]"
SUCCESS = range(200, 300)
DRAINS_PER_PROCESS = 8

_session = None
_session_key = None
_proxies = {}  # the environment's proxies by scheme, with "no" for NO_PROXY, read with the session

# requests-hardened (1.3.0) lets through two IPv6 ranges where no public host lives: ::/8, reserved by the IETF,
# which holds the deprecated IPv4-compatible (::10.0.0.1) and IPv4-translated (::ffff:0:10.0.0.1) forms that some
# stacks tunnel to the embedded IPv4 address, and fec0::/10, the deprecated site-local range. Its filter reads
# this module-level tuple at each check. (IPv4-mapped ::ffff:a.b.c.d is unwrapped before it, so still checked.)
_UNROUTED_IPV6 = (ipaddress.ip_network("::/8"), ipaddress.ip_network("fec0::/10"))
if _UNROUTED_IPV6[0] not in ip_filter.EXTRA_BLOCKED_NET_RANGES:
    ip_filter.EXTRA_BLOCKED_NET_RANGES += _UNROUTED_IPV6


@dataclass
class Result:
    status: int | None = None
    headers: dict = field(default_factory=dict)
    body: str = ""
    duration_ms: int = 0
    error: str = ""  # one line for people: "connection refused by 127.0.0.1:9999"
    retry_after: float | None = None
    error_code: str = ""  # one of ERROR_CODES
    error_detail: str = ""  # the technical text behind `error`, secrets masked

    @property
    def ok(self):
        return self.status in SUCCESS and not self.error


ERROR_CODES = {
    "dns": "the partner's host name has no address",
    "refused": "nothing listens at the partner's address and port",
    "timeout": "no connection, or no answer, within OUTBOUND_TIMEOUT",
    "tls": "the TLS handshake failed (certificate, protocol)",
    "reset": "the partner closed the connection without an answer",
    "connection": "another network failure",
    "blocked": "a private, loopback, link-local or metadata address, which we never send to",
    "redirect": "the partner answered with a redirect, which we never follow",
    "http_4xx": "the partner refused the request (4xx)",
    "http_5xx": "the partner failed (5xx)",
    "invalid": "the request could not be sent as built (an invalid URL or header)",
    "internal": "our own code failed (a bug), recorded like any failure",
}


def session():
    """One session per process (and per outbound setting), so connections are kept alive."""
    global _session, _session_key, _proxies
    key = (os.getpid(), settings.OUTBOUND_ALLOW_LOOPBACK, settings.OUTBOUND_TIMEOUT)
    if _session is None or _session_key != key:
        timeout = settings.OUTBOUND_TIMEOUT
        _session = HTTPSession(
            Config(
                ip_filter_enable=True,
                ip_filter_allow_loopback_ips=settings.OUTBOUND_ALLOW_LOOPBACK,
                never_redirect=True,
                default_timeout=(min(3.0, timeout), timeout),
                user_agent_override=USER_AGENT,
            )
        )
        # A cookie one partner sets would otherwise go to every later request to its host: other partners', tests'.
        _session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        # A drainer sends DELIVERY_DRAIN_CONCURRENCY requests at once, and each of the worker's threads (the
        # Procfile's 8) may run one, all on this session; requests keeps only 10 per host alive. The pool opens
        # connections on demand: its size only bounds how many it keeps for the next request.
        for adapter in _session.adapters.values():
            adapter.init_poolmanager(10, max(10, settings.DELIVERY_DRAIN_CONCURRENCY) * DRAINS_PER_PROCESS)
        # requests reads the environment again for each request it sends (every variable, twice, for the proxies;
        # ~/.netrc for credentials): a fifth of a request's time here. The proxies and the CA bundle are read once
        # instead, and ~/.netrc not at all: a login kept there for one host is no partner's business.
        _session.trust_env = False
        _session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        _proxies = getproxies_environment()
        _session_key = key
    return _session


def proxies_for(url):
    """The environment's proxies for `url` (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY), none for a host in NO_PROXY."""
    if not _proxies or proxy_bypass_environment(urlsplit(url).hostname or "", _proxies):
        return None
    return _proxies


def truncate(text, limit=RESPONSE_LIMIT):
    return text if len(text) <= limit else text[:limit] + TRUNCATED


def retry_after_seconds(value):
    """Seconds from a Retry-After header (ASCII digits or an HTTP date, read as UTC); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    # str.isdigit() is true of "²" and "١٢", which float() refuses or reads as a number no partner meant.
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        # A date in "-0000" parses without a zone; HTTP dates are UTC.
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - timezone.now()).total_seconds())


def failure(exc, url=""):
    """(code, one line for people, the technical detail) of an exception raised while sending to `url`."""
    detail = _first_line(exc)
    where = _host_port(url)
    if isinstance(exc, InvalidIPAddress):
        why = "private, loopback, link-local or metadata addresses are not allowed"
        return "blocked", f"blocked address: {exc} ({why})", detail
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls", f"TLS handshake with {where} failed", detail
    if isinstance(exc, requests.Timeout):
        return "timeout", f"timed out after {settings.OUTBOUND_TIMEOUT:g} s", detail
    if isinstance(exc, requests.ConnectionError):
        causes = list(_causes(exc))
        if any(isinstance(c, socket.gaierror) for c in causes) or "NameResolutionError" in detail:
            return "dns", f"DNS: no address for {where.rsplit(':', 1)[0]}", detail
        if any(isinstance(c, ConnectionRefusedError) for c in causes) or "Connection refused" in detail:
            return "refused", f"connection refused by {where}", detail
        if any(isinstance(c, (ConnectionResetError, RemoteDisconnected)) for c in causes) or "reset by peer" in detail:
            return "reset", f"{where} closed the connection without an answer", detail
        return "connection", f"connection to {where} failed", detail
    if isinstance(exc, requests.exceptions.InvalidSchema):
        return "invalid", "only http and https URLs are sent", detail
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader, ValueError)):
        return "invalid", f"the request could not be sent: {type(exc).__name__}", detail
    return "connection", f"sending failed: {type(exc).__name__}", detail


def internal_error(exc):
    """The Result of a try that our own code broke off (a bug), recorded like any failure."""
    detail = _first_line(exc)
    return Result(error=f"internal error: {type(exc).__name__}: {detail}", error_code="internal", error_detail=detail)


def _causes(exc):
    """The exception and what it wraps: requests wraps urllib3's MaxRetryError, which holds the socket's error."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        reason = getattr(exc, "reason", None)
        nested = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = reason if isinstance(reason, BaseException) else nested or exc.__cause__ or exc.__context__


def _host_port(url):
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = "?"
    return f"{parts.hostname or '?'}:{port}"


def _first_line(exc):
    # urllib3's messages quote the URL's path and query ("with url: /pb?token=..."); the error is stored and shown.
    text = str(exc) or type(exc).__name__
    return mask_log_text(text.splitlines()[0])[:300]


def send(request):
    """Send an OutboundRequest; every outcome, including a network failure, is a Result."""
    started = time.monotonic()
    try:
        response = session().request(
            request.method,
            request.url,
            headers=request.headers,
            data=request.body or None,
            stream=True,
            proxies=proxies_for(request.url),
        )
        try:
            raw = _read_capped(response)
        finally:
            response.close()
        return _result(response, raw, started)
    except (requests.RequestException, ValueError) as exc:
        code, error, detail = failure(exc, request.url)
        return Result(error=error, error_code=code, error_detail=detail, duration_ms=_ms(started))


def _result(response, raw, started):
    status = response.status_code
    body = _decode(raw, response.encoding)
    result = Result(
        status=status,
        headers=dict(response.headers),
        body=truncate(body) if len(raw) > RESPONSE_LIMIT else body,
        duration_ms=_ms(started),
    )
    if status not in SUCCESS:
        result.error = f"HTTP {status} {response.reason or ''}".strip()
        result.error_code = "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else "redirect"
        if 300 <= status < 400:
            result.error += f" (redirect to {response.headers.get('Location', '?')} not followed)"
        result.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    return result


def _decode(raw, charset):
    """The body as text; a charset Python does not know as a text encoding is read as UTF-8."""
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except (LookupError, ValueError):
        return raw.decode("utf-8", errors="replace")


def _read_capped(response):
    """Read at most READ_LIMIT bytes; a body read to its end leaves the connection reusable."""
    content = b""
    for chunk in response.iter_content(8192):
        content += chunk
        if len(content) > READ_LIMIT:
            break
    return content


def _ms(started):
    return int((time.monotonic() - started) * 1000)
