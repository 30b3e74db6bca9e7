"""Capture a request as we store it: body capped, secrets masked, the sender's address resolved."""

import ipaddress
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
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
        return body, False, request.POST, ""
    except MultiPartParserError as exc:
        return body, False, None, f"the multipart body cannot be parsed: {exc}"


def capture(request, path_key=""):
    """Read what we need from the request once; the body beyond RECEIVER_BODY_LIMIT is cut off."""
    body, truncated, form, form_error = read_body(request, settings.RECEIVER_BODY_LIMIT)
    path = request.path
    if path_key:
        path = path.replace(path_key, mask_secret(path_key), 1)
    headers = {name.lower(): value for name, value in request.headers.items()}
    return Inbound(
        method=request.method,
        path=path[:500],
        query_string=request.META.get("QUERY_STRING", ""),
        content_type=request.content_type or "",
        body=body,
        body_truncated=truncated,
        headers=headers,
        remote_addr=client_address(request),
        query=request.GET,
        form=form,
        form_error=form_error,
        path_key=path_key,
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
