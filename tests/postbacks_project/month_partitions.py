"""What the retention tests of the month-partitioned tables share: an old month made, one table's prune, its months."""

import json
from io import StringIO

from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from postbacks_project import partitions


def make_month(table, column, start):
    """The partition of `start`'s month, which the migration did not make (it is before the test database's rows)."""
    [(name, low, high)] = partitions.missing_months(table, timezone.now(), start=start)[:1]
    partitions.create_month(table, column, name, low, high)
    return name


def check_constraints_now():
    # The prune runs in transactions of its own; here the test's one holds the rows' deferred foreign key checks,
    # which PostgreSQL must run before it lets their partition be dropped.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def prune(table, *args):
    """`manage.py prune --json`'s row for `table`."""
    out = StringIO()
    call_command("prune", *args, "--json", stdout=out)
    return {row["table"]: row for row in json.loads(out.getvalue())["tables"]}[table]


def names(table):
    return [partition.name for partition in partitions.partitions(table)]
