"""How big the big tables are: rows (estimated where counting is slow), bytes on disk, and the oldest row kept.

For the status API (partners/system_status.py) and the stats dashboard, and for an operator choosing the RETAIN_* days.
PostgreSQL answers from its catalog: pg_class.reltuples (the planner's estimate, as fresh as the last VACUUM or
ANALYZE) and pg_total_relation_size (table, indexes and TOAST), summed over the partitions of a partitioned table.
SQLite counts exactly up to COUNT_LIMIT rows and says "at least" past it, and sizes each table with its indexes from
the dbstat virtual table, which reads every page: past DBSTAT_LIMIT bytes of database, or without dbstat compiled in,
only the whole file's size is given.
The oldest row is the smallest date on each table's indexed date column. The tables are named by label, not
imported: this module sits below the apps.
"""

import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from django.apps import apps
from django.db import DatabaseError, connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from postbacks_project import partitions

# (model label, the date a row is kept by), the tables that grow with traffic.
BIG_TABLES = (
    ("receiver.ReceivedPostback", "received_at"),
    ("receiver.Click", "created_at"),
    ("receiver.NetworkClick", "created_at"),
    ("receiver.Conversion", "created_at"),
    ("receiver.ConversionEvent", "created_at"),
    ("receiver.PointsEntry", "created_at"),
    ("partners.Delivery", "created_at"),
    ("partners.DeliveryAttempt", "created_at"),
    ("testing_tools.TestPostback", "created_at"),
)
COUNT_LIMIT = 100_000
DBSTAT_LIMIT = 256 * 1024 * 1024

EXACT, ESTIMATE, AT_LEAST = "exact", "estimate", "at_least"


@dataclass(frozen=True)
class TableSize:
    model: str
    table: str
    rows: int
    rows_basis: str  # exact, estimate (the catalog's) or at_least (counting stopped at COUNT_LIMIT)
    bytes: int | None  # table and its indexes; None where only the whole database is sized
    oldest: datetime | None


@dataclass(frozen=True)
class Sizes:
    vendor: str
    size_basis: str  # pg_total_relation_size, dbstat, or database_file (then only database_bytes)
    database_bytes: int | None
    tables: list

    def as_dict(self):
        return {**asdict(self), "tables": [asdict(table) for table in self.tables]}


def measure():
    models = [(apps.get_model(label), field) for label, field in BIG_TABLES]
    names = [model._meta.db_table for model, _ in models]
    if connection.vendor == "postgresql":
        basis, database_bytes, catalog = "pg_total_relation_size", *_postgres(names)
    else:
        basis, database_bytes, catalog = _sqlite(names)
    # A table the catalog has no estimate for (SQLite's, or one PostgreSQL never analyzed) is counted.
    uncounted = {name for name in names if (catalog.get(name, (None,))[0] or -1) < 0}
    oldest_and_counts = _oldest_and_counts(models, uncounted)
    tables = []
    for model, _ in models:
        name = model._meta.db_table
        oldest, counted = oldest_and_counts[name]
        if name in uncounted:
            rows, rows_basis = (COUNT_LIMIT, AT_LEAST) if counted > COUNT_LIMIT else (counted, EXACT)
        else:
            rows, rows_basis = catalog[name][0], ESTIMATE
        tables.append(TableSize(model._meta.label, name, rows, rows_basis, catalog.get(name, (None, None))[1], oldest))
    return Sizes(connection.vendor, basis, database_bytes, tables)


def _oldest_and_counts(models, uncounted):
    """{table: (oldest date, rows counted up to COUNT_LIMIT + 1, or None)}, for every table in one query: the oldest
    is one step down the date column's index, and a count stopped past COUNT_LIMIT reads at most that many rows."""
    quote = connection.ops.quote_name
    parts = []
    for model, field in models:
        table = quote(model._meta.db_table)
        column = quote(model._meta.get_field(field).column)
        count = (
            f"(SELECT COUNT(*) FROM (SELECT 1 FROM {table} LIMIT {COUNT_LIMIT + 1}) AS limited)"
            if model._meta.db_table in uncounted
            else "NULL"
        )
        parts.append(f"SELECT %s, (SELECT MIN({column}) FROM {table}), {count}")
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), [model._meta.db_table for model, _ in models])
        return {name: (_as_datetime(oldest), counted) for name, oldest, counted in cursor.fetchall()}


def _as_datetime(value):
    # SQLite answers a raw MIN() of a DateTimeField with its stored text, in UTC.
    if isinstance(value, str):
        value = parse_datetime(value)
        return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)
    return value


def _postgres(names):
    """(database bytes, {table: (estimated rows, bytes)}) from the catalog, in one query.

    A partitioned table (received postbacks and delivery attempts, by month) keeps no rows or pages of its own: it
    is the sum of its partitions, and has no estimate (-1, counted instead) while a partition holding pages was never
    analyzed.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.relname, {partitions.ESTIMATED_ROWS_SQL}, CASE WHEN c.relkind = 'p' THEN ("
            "  SELECT COALESCE(SUM(pg_total_relation_size(t.relid)), 0) FROM pg_partition_tree(c.oid) t"
            ")::bigint ELSE pg_total_relation_size(c.oid) END "
            "FROM pg_class c WHERE c.relname = ANY(%s) AND c.relkind IN ('r', 'p') AND pg_table_is_visible(c.oid) "
            "UNION ALL SELECT NULL, NULL, pg_database_size(current_database())",
            [names],
        )
        rows = cursor.fetchall()
    return next(size for name, _, size in rows if name is None), {
        name: (estimate, size) for name, estimate, size in rows if name is not None
    }


def _sqlite(names):
    """(size basis, database bytes, {table: (None, bytes)}): SQLite keeps no row estimate worth reading."""
    path = connection.settings_dict["NAME"]
    database_bytes = sum(os.path.getsize(p) for p in (str(path), f"{path}-wal") if os.path.exists(p)) or None
    if database_bytes is None or database_bytes > DBSTAT_LIMIT:
        return "database_file", database_bytes, {}
    try:
        with connection.cursor() as cursor:
            # A table's size is its own pages and its indexes' pages.
            cursor.execute(
                "SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d JOIN sqlite_master m ON m.name = d.name "
                "GROUP BY m.tbl_name"
            )
            sizes = dict(cursor.fetchall())
    except DatabaseError:  # no such table: dbstat (SQLite built without SQLITE_ENABLE_DBSTAT_VTAB)
        return "database_file", database_bytes, {}
    return "dbstat", database_bytes, {name: (None, sizes.get(name, 0)) for name in names}
