"""The test-postback admin page; its form and live log talk to the test-postback API."""

import uuid

from django.contrib import admin
from django.shortcuts import render
from django.urls import reverse

from partners.models import Partner
from receiver.statuses import Status

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
            "batch": request.GET.get("batch", ""),
            "preselected": [int(pk) for pk in request.GET.getlist("partner") if pk.isdigit()],
            "maxRows": MAX_ROWS,
            "pollSeconds": 3,
        },
    }
    return render(request, "admin/testing_tools/test_postback.html", context)
