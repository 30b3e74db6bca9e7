"""A partner user's test postbacks: chosen values sent through the test-postback service, followed live."""

import uuid
from decimal import Decimal

from django import forms
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from postbacks_project.cli import money_text
from receiver.lifecycle import Status
from testing_tools import services
from testing_tools.serializers import TestRowSerializer

from .access import own_partners, partner_page

RECENT = 10
POLL_SECONDS = 2


class TestPostbackForm(forms.Form):
    """What the partner chooses; the test-postback tool's own serializer has the rules."""

    __test__ = False  # not a pytest test class, despite its name

    status = forms.ChoiceField(choices=Status.choices, initial=Status.APPROVED)
    payout = forms.DecimalField(max_digits=18, decimal_places=6, min_value=0, required=False, initial="1.00")
    username = forms.CharField(label="user", max_length=200, initial="test-user")
    offer_name = forms.CharField(label="offer", max_length=200, initial="Test offer")
    points = forms.IntegerField(min_value=0, max_value=10**9, initial=0)


def _row(test):
    return {
        "id": test.pk,
        "state": test.state,
        "status": test.status,
        "payout": None if test.payout is None else str(test.payout),
        "username": test.username,
        "offer_name": test.offer_name,
        "points": test.points,
        "sent_at": test.sent_at.isoformat() if test.sent_at else None,
        "method": test.method,
        "url": test.url,
        "response_status": test.response_status,
        "response_body": test.response_body,
        "duration_ms": test.duration_ms,
        "error": test.error,
    }


@partner_page
def send_test(request, partner):
    """GET: the form and the partner's last tests. POST: schedule one now and follow it on its own page."""
    form = TestPostbackForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        row = TestRowSerializer(data={**form.cleaned_data, "partner_id": partner.pk, "delay_minutes": 0})
        if row.is_valid():
            batch = services.schedule_batch([row.validated_data], request.user)
            return redirect("portal:test_result", partner_id=partner.pk, batch=batch)
        for name, errors in row.errors.items():
            form.add_error(name if name in form.fields else None, errors)
    recent = partner.test_postbacks.order_by("-id")[:RECENT]
    context = {"own_partners": own_partners(request.user), "partner": partner, "form": form, "recent": recent}
    return render(request, "portal/test_postback.html", context)


def _tests(partner, batch):
    # Another partner's batch is a 404 like a batch that does not exist.
    tests = list(partner.test_postbacks.filter(batch=batch).order_by("position"))
    if not tests:
        raise Http404("no such test")
    return tests


@partner_page
def test_result(request, partner, batch):
    """The test's page: it polls test_state until the test is final."""
    tests = _tests(partner, batch)
    for test in tests:
        test.payout_text = money_text(test.payout or Decimal(0))
    context = {
        "own_partners": own_partners(request.user),
        "partner": partner,
        "tests": tests,
        "state_url": reverse("portal:test_state", args=[partner.pk, batch]),
        "poll_ms": POLL_SECONDS * 1000,
    }
    return render(request, "portal/test_result.html", context)


@partner_page
def test_state(request, partner, batch: uuid.UUID):
    """JSON {final, rows}: what the page shows, as it is now."""
    tests = _tests(partner, batch)
    return JsonResponse({"final": services.is_final(tests), "rows": [_row(test) for test in tests]})
