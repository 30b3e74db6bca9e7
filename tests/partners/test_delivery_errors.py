"""A try that raises is an attempt like any other: recorded with its error, retried on schedule, never left sending."""

from datetime import timedelta
from email.utils import format_datetime

import pytest
import responses
from django.utils import timezone

from partners import delivery as deliveries
from partners import outbox
from partners.models import Delivery, DeliveryAttempt, Partner, State
from partners.tasks import drain, sweep

URL = "https://p.example/pb"


@pytest.fixture
def queued(client, network, django_capture_on_commit_callbacks):
    """A pending delivery whose task has not run yet."""
    Partner.objects.create(name="Pub", slug="pub", postback_url=URL + "?click={click_id}")
    with django_capture_on_commit_callbacks(execute=False):
        client.get(f"/postback/{network.key}/", {"click_id": "c1"})
    outbox.route()
    return Delivery.objects.get()


@pytest.fixture
def broken_transport(monkeypatch):
    def send(request):
        raise RuntimeError("boom")

    monkeypatch.setattr("partners.transport.send", send)


def test_an_error_while_sending_is_recorded_as_an_attempt_and_retried_later(queued, broken_transport):
    drain.delay()

    queued.refresh_from_db()
    assert (queued.state, queued.attempts, queued.locked_until) == (State.RETRYING, 1, None)
    assert queued.last_error == "internal error: RuntimeError: boom"
    assert queued.next_attempt_at > timezone.now()
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.error, attempt.response_status, attempt.url) == (queued.last_error, None, URL + "?click=c1")
    assert attempt.task_id


def test_an_error_on_every_try_fails_the_delivery_when_the_schedule_is_used_up(settings, queued, broken_transport):
    settings.DELIVERY_RETRY_SCHEDULE = [0, 0, 0]

    drain.delay()

    queued.refresh_from_db()
    assert (queued.state, queued.attempts) == (State.FAILED, 3)
    assert queued.reason == "gave up after 3 attempts: internal error: RuntimeError: boom"
    assert Partner.objects.get().failing_since is not None


@responses.activate
def test_an_error_after_the_success_was_recorded_never_sends_it_again(monkeypatch, queued):
    responses.get(URL)
    record = deliveries.record_all

    def record_then_fail(*args, **kwargs):
        record(*args, **kwargs)
        raise RuntimeError("after the commit")

    monkeypatch.setattr(deliveries, "record_all", record_then_fail)

    drain.delay()
    sweep.delay()

    queued.refresh_from_db()
    assert (queued.state, queued.attempts) == (State.SUCCEEDED, 1)
    assert DeliveryAttempt.objects.get().response_status == 200
    assert len(responses.calls) == 1


def _in_ten_minutes_without_a_zone():
    return format_datetime(timezone.now().replace(tzinfo=None) + timedelta(minutes=10))


@responses.activate
@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ({"status": 200, "body": "ok", "content_type": "text/plain; charset=x-no-such-charset"}, State.SUCCEEDED),
        ({"status": 503, "headers": {"Retry-After": "²"}}, State.RETRYING),
        ({"status": 429, "headers": {"Retry-After": _in_ten_minutes_without_a_zone()}}, State.RETRYING),
    ],
)
def test_an_answer_that_once_crashed_the_transport_is_recorded(queued, answer, state):
    responses.get(URL, **answer)

    drain.delay()
    sweep.delay()

    queued.refresh_from_db()
    assert (queued.state, queued.attempts, queued.last_status_code) == (state, 1, answer["status"])
    assert len(responses.calls) == 1
