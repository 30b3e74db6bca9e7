"""manage.py redeliver: send one delivery, or a partner's failed deliveries since a time, again now."""

from django.core.management.base import BaseCommand, CommandError

from partners.management.common import parse_since, partner_by_ref
from partners.models import Delivery
from partners.redelivery import failed_since, redeliver
from postbacks_project.cli import emit

COLUMNS = ["id", "partner", "state", "result"]


def _refuse_unsendable(partner):
    # resend() would queue it, and the attempt would only cancel it again.
    if not partner.sendable:
        why = f"auto-disabled ({partner.disabled_reason})" if partner.disabled_at else "inactive"
        raise CommandError(f"partner {partner.name!r} is {why}: re-enable it first")


class Command(BaseCommand):
    help = (
        "Queue deliveries again now: --delivery ID, or --partner ID --since ISO for that partner's failed and "
        "cancelled deliveries created since then. A succeeded delivery is never sent twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--delivery", type=int, metavar="ID")
        parser.add_argument("--partner", metavar="ID", help="a partner's id, slug or name")
        parser.add_argument("--since", metavar="ISO", help="e.g. 2025-01-31 or 2025-01-31T14:00")
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        deliveries = list(self._chosen(opts))
        states = {d.pk: d.state for d in deliveries}
        report = redeliver(deliveries)
        names = {d.pk: d.destination.name for d in deliveries}
        if opts["json"]:
            data = {
                "queued": [{"id": pk, "partner": names[pk], "state": states[pk]} for pk in report.queued],
                "not_queued": [
                    {"id": pk, "partner": names[pk], "state": states[pk], "why": why} for pk, why in report.not_queued
                ],
            }
            emit(self, data, True)
            return
        rows = [{"id": pk, "partner": names[pk], "state": states[pk], "result": "queued"} for pk in report.queued]
        rows += [
            {"id": pk, "partner": names[pk], "state": states[pk], "result": f"not queued: {why}"}
            for pk, why in report.not_queued
        ]
        emit(self, sorted(rows, key=lambda row: row["id"]), False, COLUMNS)
        self.stdout.write(report.summary())

    def _chosen(self, opts):
        if opts["delivery"] is not None:
            if opts["partner"] or opts["since"]:
                raise CommandError("--delivery goes alone; --partner with --since replays a partner's failures")
            delivery = Delivery.objects.select_related("destination").filter(pk=opts["delivery"]).first()
            if delivery is None:
                raise CommandError(f"no delivery with id {opts['delivery']}")
            _refuse_unsendable(delivery.destination)
            return [delivery]
        if not (opts["partner"] and opts["since"]):
            raise CommandError("give --delivery ID, or --partner ID with --since ISO")
        partner = partner_by_ref(opts["partner"])
        since = parse_since(opts["since"])
        _refuse_unsendable(partner)
        return failed_since([partner], since).select_related("destination")
