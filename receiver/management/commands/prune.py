"""manage.py prune: delete the rows older than their RETAIN_*_DAYS, in batches or by month; --dry-run only counts."""

from django.core.management.base import BaseCommand

from postbacks_project import retention
from postbacks_project.cli import emit

COLUMNS = ["table", "setting", "days", "older_than", "rows", "unlinked", "batches", "seconds"]


class Command(BaseCommand):
    help = (
        "Delete received postbacks, delivery attempts, test postbacks and unconverted clicks older than their "
        "RETAIN_*_DAYS (0: kept forever), PRUNE_BATCH_SIZE rows per transaction. Conversions, events, points and "
        "deliveries are never deleted. On PostgreSQL, received postbacks and delivery attempts are partitioned by "
        "month: the months ahead are created, and months older than the retention are dropped whole (the events' "
        "links to a month's requests cleared first)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        tables = retention.prune(dry_run=opts["dry_run"])
        total = sum(row["rows"] for row in tables)
        seconds = round(sum(row["seconds"] for row in tables), 3)
        if opts["json"]:
            emit(self, {"dry_run": opts["dry_run"], "rows": total, "seconds": seconds, "tables": tables}, True)
            return
        emit(self, tables, False, COLUMNS)
        dry = opts["dry_run"]
        for row in tables:
            for partition in row["dropped"]:
                verb = "would drop" if dry else "dropped"
                self.stdout.write(
                    f"{row['table']}: {verb} partition {partition['partition']} ({partition['rows']} rows)"
                )
            for name in row["created"]:
                self.stdout.write(f"{row['table']}: {'would create' if dry else 'created'} partition {name}")
            for busy in row["busy"]:
                instead = "its rows deleted in batches" if busy["wanted"] == "drop" else "tried again on the next run"
                self.stdout.write(
                    f"{row['table']}: could not {busy['wanted']} partition {busy['partition']}, its lock "
                    f"was busy: {instead}"
                )
        verb = "would delete" if dry else "deleted"
        self.stdout.write(f"{verb} {total} rows in {seconds} s")
