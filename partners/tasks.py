"""Celery tasks of forwarding: the drainer routes new events and sends what is due; the sweep wakes it and disables
failing partners."""

import logging

from celery import shared_task

from postbacks_project.enqueue import enqueue, woken

from . import delivery as deliveries
from . import drainer, outbox

logger = logging.getLogger(__name__)

RELIABLE = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(bind=True, **RELIABLE)
def drain(self):
    """Route the events not yet routed, then send due deliveries for a while; then hand over to a fresh task if
    work is left, and wake for retries."""
    woken(drain)  # before reading what is waiting: a commit from now on queues another drain
    more_to_route = outbox.route()
    sent, retry_in = drainer.drain(self.request.id or "")
    if more_to_route or (sent and deliveries.left_due(grace=0)):
        enqueue(drain)
    elif retry_in is not None:
        enqueue(drain, countdown=retry_in)


@shared_task(ignore_result=True)
def sweep():
    """Wake a drainer for events left unrouted and deliveries due but not in flight (their wake-up was lost, or a
    worker died), and disable partners failing for too long."""
    unrouted = outbox.left_unrouted()
    due = deliveries.left_due()
    if unrouted or due:
        enqueue(drain)
    disabled = deliveries.disable_failing_destinations()
    if unrouted or due or disabled:
        logger.info("sweep: woke the drainer for unrouted events or due deliveries; disabled %d partners", disabled)
