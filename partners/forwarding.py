"""Where conversion events enter forwarding: deliveries in the event's transaction, the drainer woken after commit."""

from postbacks_project.enqueue import enqueue_after_commit

from . import delivery
from .tasks import drain


def create_deliveries(sender, event, **kwargs):
    """Inside the receiver's transaction: an event never exists without its deliveries."""
    if delivery.create_for_event(event):
        wake_drainer()


def release_deliveries(sender, conversion, **kwargs):
    """Inside reconvert's transaction: deliveries that waited for the conversion's rate get it, then go out."""
    if delivery.release_waiting(conversion):
        wake_drainer()


def wake_drainer():
    """After commit. A broker that is down loses nothing: the sweep wakes the drainer later."""
    enqueue_after_commit(drain)
