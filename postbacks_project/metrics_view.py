"""GET /metrics: the Prometheus scrape, for a bearer token (METRICS_TOKEN) or an allowed address (METRICS_ALLOWED_IPS).

With neither set the endpoint is off and answers 404 saying how to turn it on: metrics name partners and networks,
and an operator who never asked for them should not publish them by default.
"""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from partners.gauges import DatabaseCollector
from receiver.inbound import client_address

from .metrics import scrape

OFF = "metrics are off: set METRICS_TOKEN or METRICS_ALLOWED_IPS to turn them on (docs/operations.md, Metrics)"


@never_cache
@require_GET
def metrics(request):
    token, allowed = settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS
    if not token and not allowed:
        return JsonResponse({"success": False, "message": OFF}, status=404)
    if not (_token_matches(request, token) or _address_allowed(request, allowed)):
        if token:
            answer = JsonResponse(
                {"success": False, "message": "send Authorization: Bearer <METRICS_TOKEN>"}, status=401
            )
            answer["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return answer
        return JsonResponse({"success": False, "message": "this address may not read the metrics"}, status=403)
    return HttpResponse(scrape(DatabaseCollector()), content_type=CONTENT_TYPE_LATEST)


def _token_matches(request, token):
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Compared in constant time, as bytes: compare_digest refuses str with characters beyond ASCII.
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _address_allowed(request, allowed):
    address = client_address(request)
    return address is not None and any(ipaddress.ip_address(address) in network for network in allowed)
