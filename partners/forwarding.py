"""Where conversion events enter forwarding: deliveries in the event's transaction, sends after commit."""

import logging

from django.db import transaction
from kombu.exceptions import OperationalError

from . import delivery
from .tasks import fan_out

logger = logging.getLogger(__name__)


def create_deliveries(sender, event, **kwargs):
    """Inside the receiver's transaction: an event never exists without its deliveries."""
    if delivery.create_for_event(event):
        event_id = event.pk
        transaction.on_commit(lambda: queue_fan_out(event_id))


def release_deliveries(sender, conversion, **kwargs):
    """Inside reconvert's transaction: deliveries that waited for the conversion's rate get it, then go out."""
    for event_id in delivery.release_waiting(conversion):
        transaction.on_commit(lambda event_id=event_id: queue_fan_out(event_id))


def queue_fan_out(event_id):
    """After commit. A broker that is down loses nothing: the sweep sends the deliveries later."""
    try:
        fan_out.apply_async((event_id,), retry=False)
    except (OperationalError, OSError) as exc:
        logger.warning("event %s not queued (%s); the sweep will send its deliveries", event_id, exc)
