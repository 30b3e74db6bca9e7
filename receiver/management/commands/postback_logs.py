"""manage.py postback_logs: the newest received postbacks, whatever became of them."""

from django.core.management.base import BaseCommand, CommandError

from postbacks_project.cli import emit
from receiver.management.common import network_by_ref
from receiver.models import Outcome, ReceivedPostback

COLUMNS = ["id", "received_at", "network", "method", "outcome", "reason", "click_id", "status", "payout"]


class Command(BaseCommand):
    help = "List received postbacks, newest first."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=20)
        parser.add_argument("--network", metavar="KEY_OR_ID")
        parser.add_argument("--outcome", choices=Outcome.values)
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        if opts["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        rows = ReceivedPostback.objects.select_related("network").order_by("-id")
        if opts["network"]:
            rows = rows.filter(network=network_by_ref(opts["network"]))
        if opts["outcome"]:
            rows = rows.filter(outcome=opts["outcome"])
        data = [
            {
                "id": row.pk,
                "received_at": row.received_at,
                "network": row.network.name if row.network else None,
                "method": row.method,
                "outcome": row.outcome,
                "reason": row.reason,
                "click_id": row.click_id,
                "status": row.status,
                "payout": row.payout,
            }
            for row in rows[: opts["limit"]]
        ]
        emit(self, data, opts["json"], COLUMNS)
