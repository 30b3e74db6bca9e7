"""A postback pasted into the admin, built into the request a WSGI server would hand us and checked against a
network's signature recipe the way the receiver checks it, so an admin can see whether a network's settings work."""

import io
import re
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes, urlsplit

from django.core.handlers.wsgi import WSGIRequest
from django.urls import Resolver404, resolve

from postbacks_project.masking import mask_secret

from . import admission, signatures, views
from .inbound import capture
from .params import InvalidInput, normalise, raw_params

HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Django computes these from the body it is given; a pasted one that disagrees would only cut the body short.
COMPUTED = {"content-length", "transfer-encoding"}


def parse_headers(text):
    """[(name, value)] from lines of `Name: value`; ValueError naming the first line that is not one."""
    headers = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not HEADER_NAME.fullmatch(name):
            raise ValueError(f"line {number} is not a header line of the form Name: value")
        if name.lower() not in COMPUTED:
            headers.append((name, value.strip()))
    return headers


def _latin1(text):
    # PEP 3333: the server hands over the bytes as sent, each byte one latin-1 character; Django decodes them.
    return text.encode().decode("latin-1")


def build_request(url, headers=(), body=b""):
    """The request for `url` (with a body: a POST) as a WSGI server would pass it on; only its path and query
    are used, the rest of a URL is the server's own business."""
    parts = urlsplit(url.strip())
    environ = {
        "REQUEST_METHOD": "POST" if body else "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(parts.path or "/").decode("latin-1"),
        "QUERY_STRING": _latin1(parts.query),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": parts.scheme or "https",
    }
    for name, value in headers:
        meta = name.upper().replace("-", "_")
        environ[meta if meta == "CONTENT_TYPE" else f"HTTP_{meta}"] = _latin1(value)
    return WSGIRequest(environ)


def path_key(request):
    """The key in a /postback/<key>/ path, as the receiver's URL pattern reads it; "" for any other path."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return ""
    return str(match.kwargs.get("key", "")) if match.func is views.postback else ""


@dataclass
class Verdict:
    accepted: bool
    # Which recipe accepted it, or the step of the recipe that failed (never the value it expected).
    message: str
    # (name, value) as read from the sample; the signature, the key and the secret are not shown.
    params: list = field(default_factory=list)
    # Our fields as the network's mappings read them.
    fields: dict = field(default_factory=dict)
    # What else the receiver would say of it: another network's key, a body it cannot read, a rejection.
    notes: list = field(default_factory=list)


def check(network, url, headers=(), body=b""):
    """Whether `network`'s recipe, with its stored secret, accepts this postback; what it read from it."""
    request = build_request(url, headers, body)
    inbound = capture(request, path_key(request))
    notes = []
    try:
        params, readable = raw_params(inbound), True
    except InvalidInput as exc:
        # The receiver checks the signature even so, over the query's parameters, and then rejects the postback.
        params, readable = {name: inbound.query.get(name) for name in inbound.query}, False
        notes.append(f"The receiver would reject it after the signature check ({exc.reason}): {exc}.")
    key = inbound.path_key or inbound.header("x-postback-key") or str(params.get("key") or "")
    if not key:
        notes.append("The sample carries no postback key: the network's URL has it in the path.")
    elif key != network.key:
        notes.append("The sample's postback key is not this network's: it would be taken for another network's.")
    if inbound.body_truncated:
        notes.append("The body is larger than the receiver accepts: it would be refused (413).")

    recipe = network.recipe
    try:
        admission.signature(inbound, network, dict(params))  # the receiver's own check; it trims its copy
        accepted, message = True, f"accepted by the {recipe['scheme']} recipe"
    except admission.Refused as refused:
        accepted, message = False, refused.message

    signature_param = signatures.signature_name(recipe)
    fields = {}
    if readable:
        data = {name: value for name, value in params.items() if name != signature_param}
        try:
            fields = _read(normalise(data, network.param_mapping, network.status_mapping, network))
        except InvalidInput as exc:
            notes.append(f"The receiver would store it as rejected ({exc.reason}): {exc}.")
    return Verdict(accepted, message, _shown(params, signature_param, network), fields, notes)


def _read(normalised):
    """Our fields that the postback gave a value, as text; the rest of its parameters by name."""
    custom = normalised.pop("custom_data")
    fields = {
        name: str(value)
        for name, value in normalised.items()
        if value != "" and value is not None and value is not False
    }
    if custom:
        fields["custom_data"] = ", ".join(sorted(custom))
    return fields


def _shown(params, signature_param, network):
    shown = []
    for name, value in params.items():
        text = str(value)
        if name == signature_param:
            text = "(the signature)"
        elif network.hmac_secret and text == network.hmac_secret:
            text = "(the secret)"
        elif name == "key":
            text = mask_secret(text)
        shown.append((name, text))
    return shown
