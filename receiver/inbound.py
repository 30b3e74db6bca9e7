"""Capture a request as we store it: body capped, secrets masked, the sender's address resolved."""

import ipaddress
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import QueryDict
from django.http.multipartparser import MultiPartParserError

from postbacks_project.masking import mask_secret


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
    path_key: str = ""
    key: str = ""

    def stored_body(self):
        """The body as we keep it: a key sent in it (form or JSON) is masked like everywhere else."""
        if len(self.key) >= 8 and self.key.encode() in self.body:
            return self.body.replace(self.key.encode(), mask_secret(self.key).encode())
        return self.body

    def header(self, name):
        return self.headers.get(name.lower(), "")


def client_address(request):
    """The sender's IP: REMOTE_ADDR, or the first X-Forwarded-For hop behind a trusted proxy."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.RECEIVER_TRUST_X_FORWARDED_FOR:
        address = request.headers.get("X-Forwarded-For", "").split(",")[0].strip() or address
    try:
        return str(ipaddress.ip_address(address))
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
    if len(body) > limit:
        return body[:limit], True, None, ""
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


def read_query(request):
    """Return (query, query_error): the parsed query string, empty when Django refuses to parse it."""
    try:
        return storable_params(request.GET), ""
    except TooManyFieldsSent:
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return QueryDict(), f"the query string has more than {limit} parameters"


def capture(request, path_key=""):
    """Read what we need from the request once; the body beyond RECEIVER_BODY_LIMIT is cut off."""
    body, truncated, form, form_error = read_body(request, settings.RECEIVER_BODY_LIMIT)
    query, query_error = read_query(request)
    path = request.path
    if path_key:
        path = path.replace(path_key, mask_secret(path_key), 1)
    headers = {storable(name.lower()): storable(value) for name, value in request.headers.items()}
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
        path_key=storable(path_key),
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
