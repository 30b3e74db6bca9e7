"""Re-enabling auto-disabled destinations: what they missed while disabled was parked, and the admin chooses to
replay it (throttled by the destination's limits, in order per conversion) or discard it with a reason."""

from django.db import transaction
from django.utils import timezone

from . import forwarding
from .models import Delivery, Destination, DestinationHealth, State


def reenable(destinations, replay, reason=""):
    """Re-enable the auto-disabled among `destinations` (partners or network postbacks); (how many were re-enabled,
    parked deliveries replayed or discarded).

    A re-enabled destination starts afresh: its failing streak and its circuit breaker are cleared.
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Destination.objects.filter(pk__in=[d.pk for d in destinations], disabled_at__isnull=False).values_list(
                "pk", flat=True
            )
        )
        if not ids:
            return 0, 0
        Destination.objects.filter(pk__in=ids).update(disabled_at=None, disabled_reason="", failing_since=None)
        DestinationHealth.objects.filter(destination_id__in=ids).delete()
        parked = Delivery.objects.filter(destination_id__in=ids, state=State.PARKED)
        if replay:
            moved = parked.update(state=State.PENDING, reason="", next_attempt_at=now, updated_at=now)
            if moved:
                forwarding.wake_drainer()
        else:
            why = "discarded when it was re-enabled" + (f": {reason}" if reason else "")
            moved = parked.update(state=State.CANCELLED, reason=why, updated_at=now, finished_at=now)
    return len(ids), moved
