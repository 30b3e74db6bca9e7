"""Rows are scheduled with cumulative countdowns, sent once through the real sender, and cancellable."""

import hashlib
import hmac
from decimal import Decimal

import pytest
import responses

from partners.models import DeliveryAttempt, Partner
from partners.signing import generate_secret
from receiver.models import Conversion
from testing_tools import services
from testing_tools.models import TestPostback

from .conftest import URL


def row(partner, **fields):
    return {
        "partner": partner,
        "username": "alice",
        "offer_name": "Daily Survey",
        "points": 50,
        "payout": None,
        "status": "approved",
        "delay_minutes": 0,
        **fields,
    }


def test_each_row_waits_its_delay_after_the_previous_one(partner, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.schedule_batch(
            [row(partner, delay_minutes=0), row(partner, delay_minutes=2), row(partner, delay_minutes=5)]
        )

    assert [call["countdown"] for call in queued] == [0, 120, 420]
    tests = list(TestPostback.objects.filter(batch=batch).order_by("position"))
    assert [call["task_id"] for call in queued] == [test.task_id for test in tests]
    assert [(t.scheduled_for - tests[0].scheduled_for).total_seconds() for t in tests] == [0, 120, 420]
    assert {t.state for t in tests} == {"scheduled"}


def test_nothing_is_queued_before_the_rows_are_committed(partner, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.schedule_batch([row(partner)])

    assert queued == []
    assert len(callbacks) == 1


@responses.activate
def test_a_row_is_sent_through_the_real_renderer_and_recorded(partner, queued, django_capture_on_commit_callbacks):
    responses.get(URL, body="got it")
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.schedule_batch([row(partner, payout=Decimal("1.50"))])
    test = TestPostback.objects.get(batch=batch)

    assert services.send(test.pk) == "succeeded"

    test.refresh_from_db()
    assert responses.calls[0].request.url == URL + "?user=alice&offer=Daily%20Survey&pts=50&event=test"
    assert (test.state, test.response_status, test.response_body) == ("succeeded", 200, "got it")
    assert test.url == URL + "?user=alice&offer=Daily%20Survey&pts=50&event=test"
    assert test.sent_at is not None


@responses.activate
def test_a_test_postback_carries_a_url_signature_made_as_a_real_deliverys(
    partner, queued, django_capture_on_commit_callbacks
):
    partner.postback_url = URL + "?user={username}&ts={signature_ts}&sig={signature}"
    partner.signing_secret = generate_secret()
    partner.full_clean()
    partner.save()
    responses.get(URL, body="ok")
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.schedule_batch([row(partner)])

    assert services.send(TestPostback.objects.get(batch=batch).pk) == "succeeded"

    sent = responses.calls[0].request.url
    unsigned, _, signature = sent.rpartition("&sig=")
    assert signature == hmac.new(partner.signing_secret.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
    assert f"ts={responses.calls[0].request.headers['webhook-timestamp']}&" in sent


@responses.activate
def test_a_failing_partner_is_recorded_and_never_retried(partner, queued, django_capture_on_commit_callbacks):
    responses.get(URL, status=500, body="boom")
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.schedule_batch([row(partner)])
    test = TestPostback.objects.get(batch=batch)

    services.send(test.pk)
    services.send(test.pk)

    test.refresh_from_db()
    assert (test.state, test.response_status, test.error) == ("failed", 500, "HTTP 500 Internal Server Error")
    assert len(responses.calls) == 1


@responses.activate
def test_a_cancelled_row_is_never_sent_even_when_its_task_runs(partner, queued, django_capture_on_commit_callbacks):
    responses.get(URL)
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.schedule_batch([row(partner), row(partner, delay_minutes=1)])
    first, second = TestPostback.objects.filter(batch=batch).order_by("position")
    services.send(first.pk)

    assert services.cancel(batch) == 1
    assert services.send(second.pk) is None

    second.refresh_from_db()
    assert second.state == "cancelled"
    assert len(responses.calls) == 1


@responses.activate
def test_test_postbacks_stay_out_of_real_data(partner, queued, django_capture_on_commit_callbacks):
    responses.get(URL)
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.schedule_batch([row(partner)])

    services.send(TestPostback.objects.get(batch=batch).pk)

    assert not Conversion.objects.exists()
    assert not DeliveryAttempt.objects.exists()


@responses.activate
def test_an_inactive_partner_can_still_be_tested(partner, queued, django_capture_on_commit_callbacks):
    Partner.objects.filter(pk=partner.pk).update(is_active=False)
    responses.get(URL)
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.schedule_batch([row(partner)])

    assert services.send(TestPostback.objects.get(batch=batch).pk) == "succeeded"


@pytest.mark.parametrize(
    ("states", "final"), [(["succeeded", "failed", "cancelled"], True), (["succeeded", "scheduled"], False)]
)
def test_a_batch_is_final_when_every_row_is(states, final):
    assert services.is_final([TestPostback(state=state) for state in states]) is final


def test_the_sweep_queues_again_only_the_rows_whose_task_was_lost(partner, queued, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from testing_tools.tasks import sweep_test_postbacks

    with django_capture_on_commit_callbacks(execute=True):
        batch = services.schedule_batch([row(partner), row(partner, delay_minutes=30)])
    lost = TestPostback.objects.get(batch=batch, position=1)
    TestPostback.objects.filter(pk=lost.pk).update(scheduled_for=timezone.now() - timedelta(minutes=5))
    queued.clear()

    sweep_test_postbacks()

    assert [call["args"] for call in queued] == [(lost.pk,)]


def test_an_error_while_sending_marks_the_test_failed_with_it(partner, queued, monkeypatch):
    def send(request):
        raise RuntimeError("boom")

    monkeypatch.setattr("partners.transport.send", send)
    batch = services.schedule_batch([row(partner)])
    test = TestPostback.objects.get(batch=batch)

    assert services.send(test.pk) == "failed"

    test.refresh_from_db()
    assert (test.state, test.error, test.response_status) == ("failed", "internal error: RuntimeError: boom", None)
    assert test.url.startswith(URL)
    assert test.sent_at is not None
