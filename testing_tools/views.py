"""The test-postback admin page; its form and live log talk to the test-postback API."""

import uuid

from django.conf import settings
from django.contrib import admin, messages
from django.shortcuts import render
from django.urls import reverse

from partners.models import Partner
from receiver.lifecycle import Status
from receiver.params import as_pk

from .serializers import MAX_DELAY_MINUTES, MAX_ROWS

ZERO = uuid.UUID(int=0)


def page(request):
    """Staff who may send test postbacks (see the URLconf); ?batch= shows that batch's log, ?partner= preselects."""
    partners = Partner.objects.order_by("-is_active", "name").only("id", "name", "is_active", "disabled_at")
    context = {
        **admin.site.each_context(request),
        "title": "Test postback",
        "partners": partners,
        "statuses": Status.choices,
        "max_delay": MAX_DELAY_MINUTES,
        "config": {
            "sendUrl": reverse("test-postback-send"),
            "batchUrl": reverse("test-postback-batch", args=[ZERO]).replace(str(ZERO), ""),
            "batch": _batch(request),
            "preselected": [as_pk(pk) for pk in request.GET.getlist("partner") if as_pk(pk) is not None],
            "maxRows": MAX_ROWS,
            "pollSeconds": 3,
            # The log shows times in the server's zone, as every admin page does, not the browser's.
            "timeZone": settings.TIME_ZONE,
        },
    }
    return render(request, "admin/testing_tools/test_postback.html", context)


def _batch(request):
    """The batch whose log ?batch= asks for, as a UUID's text; anything else is said so and ignored."""
    raw = request.GET.get("batch", "").strip()
    if not raw:
        return ""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        messages.error(request, f"?batch={raw[:60]!r} is not a batch id (a UUID); showing no batch.")
        return ""
