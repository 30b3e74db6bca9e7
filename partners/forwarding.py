"""Where conversion events enter forwarding: deliveries in the event's transaction, sends after commit."""

import logging

from kombu.exceptions import OperationalError

from . import delivery
from .tasks import fan_out

logger = logging.getLogger(__name__)


def create_deliveries(sender, event, **kwargs):
    """Inside the receiver's transaction, so an event never exists without its deliveries."""
    delivery.create_for_event(event)


def forward_event(sender, event_id, **kwargs):
    """After commit: queue the fan-out. A broker that is down loses nothing; the sweep sends later."""
    try:
        fan_out.apply_async((event_id,), retry=False)
    except (OperationalError, OSError) as exc:
        logger.warning("event %s not queued (%s); the sweep will send its deliveries", event_id, exc)
