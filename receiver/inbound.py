"""Capture a request as we store it: body capped, secrets masked, the sender's address resolved."""

import codecs
import contextlib
import ipaddress
import json
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import QueryDict
from django.http.multipartparser import MultiPartParserError
from python_ipware import IpWare

from postbacks_project.masking import mask_secret

logger = logging.getLogger(__name__)


class Unreadable(Exception):
    def __init__(self, reason, message):
        super().__init__(message)
        self.reason, self.message = reason, message


@dataclass
class Inbound:
    method: str
    path: str
    query_string: str
    content_type: str
    body: bytes
    body_truncated: bool
    headers: dict
    remote_addr: str | None
    query: object = field(repr=False)
    form: object = field(default=None, repr=False)
    form_error: str = ""
    query_error: str = ""
    # What made the request unreadable as sent (reason, message): an unreadable charset, a body cut off.
    problem: tuple[str, str] | None = None
    chunked: bool = False
    path_key: str = ""
    # The postback key: from the path or the X-Postback-Key header, else the parameters (the body's win over the
    # query's). capture() finds it everywhere but in a JSON body, which raw_params parses: settle_key() takes it
    # from there, so that a postback's JSON is parsed once.
    key: str = ""
    # A JSON body whose key is not known yet: storing the row looks for it, so that no refusal keeps it in clear.
    key_in_json: bool = False
    # The path as called, the key in it in clear: for a signature over the URL only, never stored or shown.
    raw_path: str = field(default="", repr=False)
    # Names of parameters and headers that carry this network's secret itself (a token recipe), lower case.
    secret_names: frozenset = frozenset()
    token: str = field(default="", repr=False)

    def settle_key(self, params):
        """The key the request names once its parameters are read: the path's or the header's, else theirs ("").

        A key captured from a body the parameters did not take in (a form that could not be parsed) is kept, so
        that the row masks it, but names no network.
        """
        if self.path_key or self.header("x-postback-key"):
            return self.key
        named = str(params.get("key") or "")
        if named:
            # A JSON body's key, if it has one, is among the parameters: storing need not parse the body again.
            self.key, self.key_in_json = named, False
        return named

    def stored_body(self):
        """The body as we keep it: a key or a token sent in it (form or JSON) is masked like everywhere else."""
        body = self.body
        for value in (self.key, self.token, self._json_key()):
            if len(value) >= 8 and value.encode() in body:
                body = body.replace(value.encode(), mask_secret(value).encode())
        return body

    def _json_key(self):
        """The key in a JSON body not read yet (a request refused or failed before its parameters were); or ""."""
        if not self.key_in_json:
            return ""
        with contextlib.suppress(ValueError, RecursionError):
            data = json.loads(self.body)
            return str(data.get("key") or "") if isinstance(data, dict) else ""
        return ""

    def header(self, name):
        return self.headers.get(name.lower(), "")


HEADER = ("HTTP_X_FORWARDED_FOR",)


def client_address(request):
    """The sender's IP: REMOTE_ADDR, or the X-Forwarded-For entry that the trusted proxies in front of us vouch for.

    Each proxy appends the address of the peer it saw, and keeps whatever the client sent before it: counted from
    the right, behind N proxies the sender is the Nth entry of the header followed by REMOTE_ADDR. Entries further
    left are the client's own words. python-ipware counts only the proxies inside the header, so REMOTE_ADDR (the
    nearest proxy) joins the chain it reads.
    """
    peer = _ip(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.RECEIVER_TRUSTED_PROXIES
    if not proxies or peer is None:
        return peer
    chain = ", ".join(filter(None, (request.META.get(HEADER[0], ""), peer)))
    if not isinstance(proxies, int):
        proxies = tuple(proxies)
        if ipaddress.ip_address(peer) not in ipaddress.ip_network(proxies[-1], strict=False):
            return peer  # not our nearest proxy: a direct connection, whose address is the sender's
    ip, _trusted = _ware(proxies).get_client_ip({HEADER[0]: chain}, strict=False)
    # Fewer entries than proxies: the header cannot name the sender, and the proxy's own address is no one's.
    return str(ip) if ip is not None else None


@lru_cache(maxsize=8)
def _ware(proxies):
    """The reader for a proxy count or a tuple of the proxies' networks, built once per setting."""
    if isinstance(proxies, int):
        return IpWare(precedence=HEADER, proxy_count=proxies, algorithm="modern")
    return IpWare(precedence=HEADER, proxy_list=list(proxies), algorithm="modern")


def _ip(text):
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# PostgreSQL stores no NUL character in text or JSON, and no encoder takes a lone surrogate (JSON's "\ud800"):
# such a character in a name or value becomes U+FFFD, as undecodable bytes do. The raw query and body keep it.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text):
    return UNSTORABLE.sub("\ufffd", text)


def storable_params(query):
    """A copy of a QueryDict with every name and value storable (the same object when nothing needs a change)."""
    if not any(UNSTORABLE.search(text) for name, values in query.lists() for text in (name, *values)):
        return query
    clean = QueryDict(mutable=True)
    for name, values in query.lists():
        clean.setlist(storable(name), [storable(value) for value in values])
    return clean


def read_body(request, limit):
    """Return (body, truncated, form, form_error); a form (urlencoded or multipart) is parsed by Django."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        body = request.read(limit + 1)
        return body[:limit], True, None, ""
    try:
        body = request.body
    except RequestDataTooBig:
        return b"", True, None, ""
    except OSError as exc:  # the client stopped sending mid-body (gunicorn's read timed out) or went away
        message = f"the body could not be read to its end: {exc or type(exc).__name__}"
        raise Unreadable("incomplete_body", message) from None
    if len(body) > limit:
        return body[:limit], True, None, ""
    if len(body) < declared:  # the client closed early: the server hands over what came, and says nothing
        message = f"the body ended after {len(body)} of the {declared} bytes its Content-Length promised"
        raise Unreadable("incomplete_body", message)
    if request.content_type not in FORM_TYPES or not body:
        return body, False, None, ""
    if request.content_type == FORM_TYPES[0]:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return body, False, None, "the form body is not valid UTF-8"
    try:
        return body, False, storable_params(request.POST), ""
    except MultiPartParserError as exc:
        return body, False, None, f"the multipart body cannot be parsed: {exc}"
    # Django's own refusals (too many fields or files, a charset that does not decode the body) would answer
    # a bare 400 before we store anything: they are bad input like any other.
    except (SuspiciousOperation, BadRequest) as exc:
        return body, False, None, f"the form body cannot be parsed: {exc}"
    except (LookupError, UnicodeError):
        return body, False, None, f"the form body cannot be decoded as {request.encoding!r}; send UTF-8"


def read_query(request):
    """Return (query, query_error): the parsed query string, empty when Django refuses to parse it."""
    try:
        return storable_params(request.GET), ""
    except TooManyFieldsSent:
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return QueryDict(), f"the query string has more than {limit} parameters"


def readable_charset(request):
    """'' when the Content-Type's charset decodes the request; else why not, with UTF-8 read in its place.

    Django ignores a charset Python does not know, but takes rot13 (a codec, not a text encoding) and punycode
    (which fails on most input), and then raises when it parses the query string or the form.
    """
    charset = request.content_params.get("charset", "")
    if not charset:
        return ""
    try:
        readable = codecs.lookup(charset)._is_text_encoding
        if readable:
            request.GET  # noqa: B018 (parsed here, with the charset, to learn whether it decodes)
    except (LookupError, TooManyFieldsSent):  # a charset Django ignores, or a query read_query refuses
        return ""
    except UnicodeError:
        readable = False
    if readable:
        return ""
    request.encoding = "utf-8"
    return f"the charset {storable(charset)[:40]!r} in the Content-Type cannot decode this request; send UTF-8"


def capture(request, path_key=""):
    """Read what we need from the request once; the body beyond RECEIVER_BODY_LIMIT is cut off.

    A request we cannot read as sent still comes back, with what could be read and the problem named, so that
    it is stored and answered like any other; one that fails us in a way we did not foresee comes back bare.
    """
    try:
        return _capture(request, path_key)
    except Exception:
        logger.exception("receiver could not read a request; storing what its first line says")
        return _bare(request, path_key)


def _key(path_key, request, query, form, body):
    """(key, key_in_json): the postback key wherever it was sent but a JSON body (path, header, form, query), and
    whether a JSON body may still name it; found before any check, so that every stored row masks it."""
    if path_key or request.headers.get("X-Postback-Key"):
        return storable(path_key or request.headers["X-Postback-Key"]), False
    key = (form or {}).get("key")
    # Django parses a form only when it is POSTed and readable; the body of a PUT or DELETE can carry one too.
    if not key and not form and body and request.content_type == FORM_TYPES[0]:
        with contextlib.suppress(ValueError, SuspiciousOperation):
            key = QueryDict(body).get("key")
    # Looking for the name costs no parse: the body is parsed once, by raw_params, or by stored_body() when the
    # request is stored before its parameters were read.
    in_json = form is None and b'"key"' in body and body.lstrip()[:1] == b"{"
    return storable(str(key or query.get("key") or "")), in_json


def _bare(request, path_key):
    meta = request.META
    path = str(meta.get("PATH_INFO", ""))
    return Inbound(
        method=storable(str(meta.get("REQUEST_METHOD", ""))[:10]),
        path=storable(path.replace(path_key, mask_secret(path_key), 1) if path_key else path)[:500],
        query_string=storable(str(meta.get("QUERY_STRING", ""))),
        content_type=storable(str(meta.get("CONTENT_TYPE", ""))[:200]),
        body=b"",
        body_truncated=False,
        headers={},
        remote_addr=_ip(str(meta.get("REMOTE_ADDR", ""))),
        query=QueryDict(),
        problem=("unreadable_request", "the request could not be read; it is stored as its first line gave it"),
        path_key=storable(path_key),
        key=storable(path_key or str(meta.get("HTTP_X_POSTBACK_KEY", ""))),
    )


def _capture(request, path_key):
    problem = None
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    try:
        charset_error = readable_charset(request)
        if charset_error:
            problem = ("invalid_charset", charset_error)
        if chunked:  # Django reads no body without a Content-Length: refused (411), never processed without it
            body, truncated, form, form_error = b"", False, None, ""
        else:
            body, truncated, form, form_error = read_body(request, settings.RECEIVER_BODY_LIMIT)
        query, query_error = read_query(request)
    except Unreadable as exc:
        body, truncated, form, form_error, problem = b"", False, None, "", (exc.reason, exc.message)
        query, query_error = read_query(request)
    path = request.path
    if path_key:
        path = path.replace(path_key, mask_secret(path_key), 1)
    headers = {storable(name.lower()): storable(value) for name, value in request.headers.items()}
    key, key_in_json = _key(path_key, request, query, form, body)
    return Inbound(
        method=storable(request.method),
        path=storable(path[:500]),
        query_string=storable(request.META.get("QUERY_STRING", "")),
        content_type=storable(request.content_type or ""),
        body=body,
        body_truncated=truncated,
        headers=headers,
        remote_addr=client_address(request),
        query=query,
        form=form,
        form_error=form_error,
        query_error=query_error,
        problem=problem,
        chunked=chunked,
        path_key=storable(path_key),
        key=key,
        key_in_json=key_in_json,
        raw_path=request.path,
    )


def from_command(path, params):
    """A request as a management command makes it (method CLI), stored like any other."""
    query = QueryDict(mutable=True)
    query.update({name: str(value) for name, value in params.items() if value is not None})
    return Inbound(
        method="CLI",
        path=path[:500],
        query_string=query.urlencode(),
        content_type="",
        body=b"",
        body_truncated=False,
        headers={},
        remote_addr=None,
        query=query,
    )
