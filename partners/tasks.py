"""Celery tasks of forwarding: the drainer sends what is due; the sweep wakes it and disables failing partners."""

import logging

from celery import shared_task

from postbacks_project.enqueue import enqueue

from . import delivery as deliveries
from . import drainer

logger = logging.getLogger(__name__)

RELIABLE = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(bind=True, **RELIABLE)
def drain(self):
    """Send due deliveries for a while; then hand over to a fresh task if work is left, and wake for retries."""
    sent, retry_in = drainer.drain(self.request.id or "")
    if sent and deliveries.due_for_sweep(limit=1, grace=0):
        enqueue(drain)
    elif retry_in is not None:
        enqueue(drain, countdown=retry_in)


@shared_task(ignore_result=True)
def sweep():
    """Wake a drainer for deliveries that are due but not in flight, and disable partners failing for too long."""
    due = deliveries.due_for_sweep(limit=1)
    if due:
        enqueue(drain)
    disabled = deliveries.disable_failing_partners()
    if due or disabled:
        logger.info("sweep: woke the drainer for due deliveries; disabled %d partners", disabled)
