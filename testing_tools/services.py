"""Schedule, send and cancel test postbacks through the same renderer and transport as real forwarding."""

import logging
import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from partners import transport
from partners.macros import build_values
from partners.outbound import OutboundRequest, attempt_fields, build_request
from postbacks_project.enqueue import enqueue_after_commit

from .models import FINAL_TEST_STATES, TestPostback, TestState

logger = logging.getLogger(__name__)


def schedule_batch(rows, user=None):
    """Store the rows and queue each with a countdown: the sum of the delays up to and including its own.

    `rows` are validated dicts (partner, username, offer_name, points, payout, status, delay_minutes).
    Returns the batch id.
    """
    from .tasks import send_test_postback

    batch, now, waited = uuid.uuid4(), timezone.now(), 0
    created = []
    with transaction.atomic():
        for position, row in enumerate(rows, start=1):
            waited += row["delay_minutes"] * 60
            created.append(
                TestPostback.objects.create(
                    batch=batch,
                    position=position,
                    partner=row["partner"],
                    username=row["username"],
                    offer_name=row["offer_name"],
                    points=row["points"],
                    payout=row.get("payout"),
                    status=row["status"],
                    delay_minutes=row["delay_minutes"],
                    scheduled_for=now + timedelta(seconds=waited),
                    task_id=str(uuid.uuid4()),
                    created_by=user if user is not None and user.is_authenticated else None,
                    url="",
                    method=row["partner"].method,
                )
            )

        for test in created:
            countdown = (test.scheduled_for - now).total_seconds()
            enqueue_after_commit(send_test_postback, test.pk, countdown=countdown, task_id=test.task_id)
    return batch


def send(test_id):
    """Send one test row if it is still scheduled; a cancelled row is never sent, whatever the queue holds.

    Whatever raises once the row is claimed marks it failed with the error: no sweep takes up a row in `sending`.
    """
    now = timezone.now()
    if not TestPostback.objects.filter(pk=test_id, state=TestState.SCHEDULED).update(state=TestState.SENDING):
        return None
    request = OutboundRequest(method="", url="")
    try:
        test = TestPostback.objects.select_related("partner").get(pk=test_id)
        request = _request_for(test, now)
        result = transport.send(request)
        state = TestState.SUCCEEDED if result.ok else TestState.FAILED
        TestPostback.objects.filter(pk=test_id).update(
            state=state, sent_at=timezone.now(), **attempt_fields(request, result)
        )
    except Exception as exc:
        logger.exception("test postback %s: internal error, marked failed", test_id)
        state = TestState.FAILED
        TestPostback.objects.filter(pk=test_id, state=TestState.SENDING).update(
            state=state, sent_at=timezone.now(), **attempt_fields(request, transport.internal_error(exc))
        )
    return state


def _request_for(test, now):
    partner = test.partner
    values = build_values(
        partner=partner,
        gross=test.payout if test.payout is not None else Decimal(0),
        currency=settings.HOUSE_CURRENCY,
        status=test.status,
        event="test",
        moment=now,
        click_id=f"test-{test.batch.hex[:8]}-{test.position}",
        offer_name=test.offer_name,
        transaction_id=f"test-{test.pk}",
        user_id=test.username,
        username=test.username,
        network="test",
        points_override=test.points,
    )
    return build_request(partner, values, f"test_{test.batch.hex}_{test.position}", int(now.timestamp()))


def overdue(grace_seconds):
    """Scheduled rows whose time passed more than `grace_seconds` ago: the broker lost their task."""
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    return list(
        TestPostback.objects.filter(state=TestState.SCHEDULED, scheduled_for__lt=cutoff).values_list("pk", flat=True)
    )


def cancel(batch):
    """Cancel the rows of a batch not yet sent; returns how many were cancelled."""
    return TestPostback.objects.filter(batch=batch, state=TestState.SCHEDULED).update(state=TestState.CANCELLED)


def batch_rows(batch):
    return list(TestPostback.objects.filter(batch=batch).select_related("partner").order_by("position"))


def is_final(rows):
    return all(row.state in FINAL_TEST_STATES for row in rows)
