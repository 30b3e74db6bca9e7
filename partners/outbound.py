"""Build the HTTP request for a partner from its templates: the one place that renders them."""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from postbacks_project.masking import mask_headers, mask_url

from . import signing
from .models import BodyType, Method
from .templating import render, signature_parameter

CONTENT_TYPES = {BodyType.FORM: "application/x-www-form-urlencoded", BodyType.JSON: "application/json"}


@dataclass
class OutboundRequest:
    method: str
    url: str
    headers: dict = field(default_factory=dict)
    body: bytes = b""


def build_request(partner, values, message_id, timestamp):
    """Render URL, body and headers; sign them when the partner has a secret.

    `{signature}` depends on the rest of the URL, so it is rendered empty and filled in once the URL is complete.
    """
    values = {**values, "signature": "", "signature_ts": str(timestamp)}
    url = render(partner.postback_url, values, "url")
    name = signature_parameter(partner.postback_url)
    if partner.signing_secret and name:
        url = signing.sign_url(partner.signing_secret, url, name)
    headers = {str(name): str(value) for name, value in (partner.headers or {}).items()}
    body = b""
    if partner.method == Method.POST:
        escape = "json" if partner.body_type == BodyType.JSON else "form"
        body = render(partner.body_template, values, escape).encode()
        headers["Content-Type"] = CONTENT_TYPES[partner.body_type]
    if partner.signing_secret:
        # Both secrets during a rotation's window, the new one first; {signature} above has only the new one.
        moment = datetime.fromtimestamp(timestamp, tz=UTC)
        headers.update(signing.headers(partner.secrets_at(moment), message_id, timestamp, body))
    return OutboundRequest(method=partner.method, url=url, headers=headers, body=body)


def attempt_fields(request, result):
    """The columns every attempt record stores (deliveries and test postbacks alike), secrets masked."""
    return {
        "url": mask_url(request.url),
        "method": request.method,
        "request_headers": mask_headers(request.headers.items()),
        "request_body": request.body.decode("utf-8", errors="replace"),
        "response_status": result.status,
        "response_headers": mask_headers(result.headers.items()),
        "response_body": result.body,
        "duration_ms": result.duration_ms,
        "error": result.error,
        "error_code": result.error_code,
        "error_detail": result.error_detail,
    }
