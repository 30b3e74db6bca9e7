"""Where conversion events enter forwarding: the drainer, woken after commit, routes them (partners.outbox)."""

from postbacks_project.enqueue import enqueue_after_commit

from . import delivery
from .tasks import drain


def event_created(sender, event, **kwargs):
    """Inside the receiver's transaction, which this leaves as it is: the worker routes the event after commit."""
    wake_drainer()


def release_deliveries(sender, conversion, **kwargs):
    """Inside reconvert's transaction: deliveries that waited for the conversion's rate get it, then go out."""
    if delivery.release_waiting(conversion):
        wake_drainer()


def wake_drainer():
    """After commit. A broker that is down loses nothing: the sweep wakes the drainer later."""
    enqueue_after_commit(drain)
