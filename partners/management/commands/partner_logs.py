"""manage.py partner_logs: the newest deliveries to partners, with the URL of their last attempt."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import OuterRef, Subquery

from partners.macros import event_name
from partners.management.common import partner_by_ref
from partners.models import Delivery, DeliveryAttempt, State
from postbacks_project.cli import emit

COLUMNS = [
    "id",
    "created_at",
    "partner",
    "conversion_id",
    "event",
    "state",
    "attempts",
    "last_status_code",
    "last_error",
    "url",
]


class Command(BaseCommand):
    help = "List deliveries to partners, newest first; url is the masked URL of the last attempt."

    def add_arguments(self, parser):
        parser.add_argument("--partner", metavar="ID", help="a partner's id, slug or name")
        parser.add_argument("--state", choices=State.values)
        parser.add_argument("--limit", type=int, default=20)
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        if opts["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        last_url = DeliveryAttempt.objects.filter(delivery=OuterRef("pk")).order_by("-number").values("url")[:1]
        rows = (
            Delivery.objects.select_related("destination", "event__conversion")
            .annotate(last_url=Subquery(last_url))
            .order_by("-id")
        )
        if opts["partner"]:
            rows = rows.filter(destination=partner_by_ref(opts["partner"]))
        if opts["state"]:
            rows = rows.filter(state=opts["state"])
        data = [
            {
                "id": row.pk,
                "created_at": row.created_at,
                "partner": row.destination.name,
                "conversion_id": row.event.conversion_id,
                "event": event_name(row.event),
                "state": row.state,
                "attempts": row.attempts,
                "last_status_code": row.last_status_code,
                "last_error": row.last_error or None,
                "url": row.last_url,
            }
            for row in rows[: opts["limit"]]
        ]
        emit(self, data, opts["json"], COLUMNS)
