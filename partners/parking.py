"""Re-enabling auto-disabled partners: what they missed while disabled was parked, and the admin chooses to replay
it (throttled by the partner's limits, in order per conversion) or discard it with a reason."""

from django.db import transaction
from django.utils import timezone

from . import forwarding
from .models import Delivery, Partner, PartnerHealth, State


def reenable(partners, replay, reason=""):
    """Re-enable the auto-disabled among `partners`; (partners re-enabled, parked deliveries replayed or discarded).

    A re-enabled partner starts afresh: its failing streak and its circuit breaker are cleared.
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Partner.objects.filter(pk__in=[p.pk for p in partners], disabled_at__isnull=False).values_list(
                "pk", flat=True
            )
        )
        if not ids:
            return 0, 0
        Partner.objects.filter(pk__in=ids).update(disabled_at=None, disabled_reason="", failing_since=None)
        PartnerHealth.objects.filter(partner_id__in=ids).delete()
        parked = Delivery.objects.filter(partner_id__in=ids, state=State.PARKED)
        if replay:
            moved = parked.update(state=State.PENDING, reason="", next_attempt_at=now, updated_at=now)
            if moved:
                forwarding.wake_drainer()
        else:
            why = "discarded when the partner was re-enabled" + (f": {reason}" if reason else "")
            moved = parked.update(state=State.CANCELLED, reason=why, updated_at=now, finished_at=now)
    return len(ids), moved
