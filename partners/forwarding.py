"""Where conversion events enter forwarding: the drainer, woken after commit, routes them (partners.outbox)."""

from postbacks_project.enqueue import wake_after_commit
from receiver.models import EventKind, Source

from . import delivery
from .tasks import drain


def event_created(sender, event, **kwargs):
    """Inside the receiver's transaction: the worker routes the event after commit. A new claim learns now whether
    it will be reported to its network, which its answer says (a claim is an app server's call, not a postback)."""
    if event.kind == EventKind.CREATED and event.conversion.source == Source.CLAIM:
        delivery.note_unreported(event.conversion)
    wake_drainer()


def release_deliveries(sender, conversion, **kwargs):
    """Inside reconvert's transaction: deliveries that waited for the conversion's rate get it, then go out."""
    if delivery.release_waiting(conversion):
        wake_drainer()


def wake_drainer():
    """After commit, once per burst (a copy queued and not started yet will do). A broker that is down loses nothing:
    the sweep wakes the drainer later."""
    wake_after_commit(drain)
