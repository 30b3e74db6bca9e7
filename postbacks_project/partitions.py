"""PostgreSQL monthly partitions: which tables have them, the months ahead, and dropping the months retention let go.

A table partitioned by RANGE of a date (receiver/migrations/0016 and partners/migrations/0016 make the received
postbacks and the delivery attempts ones) has a partition per calendar month in UTC, named `<table>_pYYYY_MM`, and a
DEFAULT one that catches any row no month takes. Retention (postbacks_project/retention.py) creates the months ahead on
each run and detaches and drops the months older than its cutoff: one short transaction whose disk comes back at
once, where deleted rows wait for VACUUM. Both take a lock on the whole table, so each waits at most LOCK_TIMEOUT for
it and gives up rather than stall the receiver's and the workers' inserts queued behind it: a month not created then
fills the DEFAULT partition meanwhile, and a month not dropped is deleted in batches instead. SQLite has no
partitions: is_partitioned() says no there, and nothing else is called.
"""

import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import OperationalError, connection, transaction
from django.utils.dateparse import parse_datetime

LOCK_TIMEOUT = "5s"
MONTHS_AHEAD = 3
LOCK_NOT_AVAILABLE = "55P03"
BOUNDS = re.compile(r"FOR VALUES FROM \('([^']+)'\) TO \('([^']+)'\)")

# The planner's row estimate of the pg_class row `c`, as SQL: a partitioned table keeps none of its own (autovacuum
# analyzes each partition, never the partitioned table), so it is the sum of its partitions', and -1 (unknown) while a
# partition holding pages was never analyzed.
ESTIMATED_ROWS_SQL = (
    "CASE WHEN c.relkind = 'p' THEN ("
    "SELECT CASE WHEN bool_or(l.reltuples < 0 AND pg_relation_size(l.oid) > 0) THEN -1 "
    "ELSE COALESCE(SUM(GREATEST(l.reltuples, 0)), 0) END "
    "FROM pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid WHERE t.isleaf"
    ") ELSE c.reltuples END::bigint"
)


@dataclass(frozen=True)
class Partition:
    name: str
    # None for the DEFAULT partition, and for one whose bounds are not plain dates (MINVALUE, say): never dropped.
    low: datetime | None
    high: datetime | None
    is_default: bool = False


class Busy(Exception):
    """The table's lock was not granted within LOCK_TIMEOUT."""


def is_partitioned(table):
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s))", [table])
        return cursor.fetchone()[0]


def partitions(table):
    """The partitions of `table` by their lower bound, the DEFAULT one last."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [table],
        )
        rows = cursor.fetchall()
    found = []
    for name, bound in rows:
        match = BOUNDS.fullmatch(bound)
        low, high = (parse_datetime(b) for b in match.groups()) if match else (None, None)
        found.append(Partition(name, low, high, bound == "DEFAULT"))
    return sorted(found, key=lambda p: (p.is_default, p.low or datetime.max.replace(tzinfo=UTC)))


def month_of(moment):
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(month):
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


def missing_months(table, now, start=None):
    """(name, low, high) of each month from `start`'s (now's if None) to MONTHS_AHEAD after now's that has no
    partition yet."""
    have = {p.low for p in partitions(table)}
    month, last = month_of(start or now), month_of(now)
    for _ in range(MONTHS_AHEAD):
        last = next_month(last)
    missing = []
    while month <= last:
        if month not in have:
            missing.append((f"{table}_p{month:%Y_%m}", month, next_month(month)))
        month = next_month(month)
    return missing


def create_month(table, column, name, low, high):
    """Create one month's partition; raises Busy when the table's lock is not granted."""
    quote = connection.ops.quote_name
    bounds = f"FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
    default = next((p.name for p in partitions(table) if p.is_default), None)
    with _locked() as cursor:
        if default:
            cursor.execute(
                f"SELECT EXISTS (SELECT 1 FROM {quote(default)} WHERE {quote(column)} >= %s AND {quote(column)} < %s)",
                [low, high],
            )
        if not default or not cursor.fetchone()[0]:
            cursor.execute(f"CREATE TABLE {quote(name)} PARTITION OF {quote(table)} FOR VALUES {bounds}")
            return
        # PostgreSQL refuses a month whose rows the DEFAULT partition holds: they move into it first.
        cursor.execute(f"CREATE TABLE {quote(name)} (LIKE {quote(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {quote(default)} WHERE {quote(column)} >= %s AND {quote(column)} < %s "
            f"RETURNING *) INSERT INTO {quote(name)} SELECT * FROM moved",
            [low, high],
        )
        cursor.execute(f"ALTER TABLE {quote(table)} ATTACH PARTITION {quote(name)} FOR VALUES {bounds}")


def older_than(table, cutoff):
    """The month partitions whose every row is older than `cutoff`."""
    return [p for p in partitions(table) if p.high is not None and p.high <= cutoff]


def rows_in(partition):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(partition.name)}")
        return cursor.fetchone()[0]


def drop(table, partition):
    """Detach and drop `partition`; raises Busy when the table's lock is not granted."""
    quote = connection.ops.quote_name
    with _locked() as cursor:
        cursor.execute(f"ALTER TABLE {quote(table)} DETACH PARTITION {quote(partition.name)}")
        cursor.execute(f"DROP TABLE {quote(partition.name)}")


@contextmanager
def _locked():
    """A transaction whose waits for a lock end after LOCK_TIMEOUT, as Busy."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            yield cursor
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise Busy(f"lock not granted within {LOCK_TIMEOUT}") from error
        raise
