"""The demo partner's endpoint: a sink on the hub itself that answers 200 and echoes what it got, for seed_demo.

It exists only where partner URLs may point at loopback (OUTBOUND_ALLOW_LOOPBACK, local development and tests)
and answers only callers on loopback (the hub's own worker); anywhere else it is a 404 like any unknown URL.
"""

import ipaddress

from django.conf import settings
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .transport import truncate


def _from_loopback(request):
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@csrf_exempt
@require_http_methods(["GET", "POST"])
def sink(request):
    if not (settings.OUTBOUND_ALLOW_LOOPBACK and _from_loopback(request)):
        raise Http404
    # The delivery attempt keeps this answer: its response body shows what the demo partner received.
    return JsonResponse(
        {
            "received": True,
            "method": request.method,
            "query": request.GET.dict(),
            "body": truncate(request.body.decode("utf-8", "replace"), 512),
        }
    )
