"""Celery tasks of forwarding: thin, idempotent, each reloading its row by id."""

import logging

from celery import shared_task
from django.conf import settings

from . import delivery as deliveries
from .models import Delivery, State

logger = logging.getLogger(__name__)

RELIABLE = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(**RELIABLE)
def fan_out(event_id):
    """Queue one send per pending delivery of a conversion event."""
    for pk in Delivery.objects.filter(event_id=event_id, state=State.PENDING).values_list("pk", flat=True):
        send_delivery.delay(pk)


@shared_task(bind=True, **RELIABLE)
def send_delivery(self, delivery_id):
    outcome = deliveries.attempt(delivery_id, self.request.id or "")
    # Long waits are left to the sweep: a Redis broker redelivers tasks held past its visibility timeout.
    if outcome and outcome.retry_in is not None and outcome.retry_in <= settings.DELIVERY_COUNTDOWN_LIMIT:
        send_delivery.apply_async((delivery_id,), countdown=outcome.retry_in)


@shared_task(ignore_result=True)
def sweep():
    """Re-queue deliveries that are due but not in flight, and disable partners failing for too long."""
    due = deliveries.due_for_sweep()
    for pk in due:
        send_delivery.delay(pk)
    disabled = deliveries.disable_failing_partners()
    if due or disabled:
        logger.info("sweep: re-queued %d deliveries, disabled %d partners", len(due), disabled)
