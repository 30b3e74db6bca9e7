"""manage.py check_partners: every destination's (partners', networks' own postbacks') template, last delivery,
24 h success rate, breaker and disable state."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone

from partners.models import Delivery, Destination
from postbacks_project.cli import emit

WINDOW = timedelta(hours=24)
COLUMNS = ["id", "name", "state", "breaker", "last_delivery", "success_24h", "disabled_reason", "template"]


def partners_with_health(now):
    """Destinations annotated in one query; an attempt succeeded when it got a 2xx answer and no error."""
    newest = Delivery.objects.filter(destination=OuterRef("pk")).order_by("-id")
    recent = Q(deliveries__attempt_set__created_at__gte=now - WINDOW)
    succeeded = recent & Q(
        deliveries__attempt_set__response_status__gte=200,
        deliveries__attempt_set__response_status__lt=300,
        deliveries__attempt_set__error="",
    )
    return (
        Destination.objects.select_related("health")
        .annotate(
            last_delivery_at=Subquery(newest.values("created_at")[:1]),
            last_delivery_state=Subquery(newest.values("state")[:1]),
            attempts_24h=Count("deliveries__attempt_set", filter=recent),
            succeeded_24h=Count("deliveries__attempt_set", filter=succeeded),
        )
        .order_by("name")
    )


class Command(BaseCommand):
    help = (
        "List every partner and network postback, active or not: its template, last delivery, success rate over "
        "the last 24 h (attempts that got a 2xx answer / all attempts; null when there were none) and auto-disable "
        "state."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        data = [
            {
                "id": partner.pk,
                "name": partner.name,
                "active": partner.is_active,
                "state": partner.sending_state,
                "template": partner.postback_url,
                "method": partner.method,
                "last_delivery_at": partner.last_delivery_at,
                "last_delivery_state": partner.last_delivery_state,
                "attempts_24h": partner.attempts_24h,
                "succeeded_24h": partner.succeeded_24h,
                "success_rate_24h": (
                    round(partner.succeeded_24h / partner.attempts_24h, 4) if partner.attempts_24h else None
                ),
                "failing_since": partner.failing_since,
                **_breaker(partner),
                "disabled_at": partner.disabled_at,
                "disabled_reason": partner.disabled_reason,
            }
            for partner in partners_with_health(timezone.now())
        ]
        if opts["json"]:
            emit(self, data, True)
            return
        emit(self, [_table_row(row) for row in data], False, COLUMNS)


def _breaker(partner):
    health = getattr(partner, "health", None)
    if health is None:
        return {"breaker": "closed", "consecutive_failures": 0, "probe_at": None}
    return {"breaker": health.breaker, "consecutive_failures": health.consecutive_failures, "probe_at": health.probe_at}


def _table_row(row):
    last = None
    if row["last_delivery_at"]:
        last = f"{row['last_delivery_state']} {row['last_delivery_at']:%Y-%m-%d %H:%M}"
    rate = None
    if row["success_rate_24h"] is not None:
        rate = f"{row['succeeded_24h']}/{row['attempts_24h']} ({row['success_rate_24h']:.0%})"
    return {**row, "last_delivery": last, "success_24h": rate, "disabled_reason": row["disabled_reason"] or None}
