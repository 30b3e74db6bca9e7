"""PostgreSQL: dropping a month's partition against the prune's batched DELETE, for received postbacks and attempts.

On scratch tables shaped like receiver_receivedpostback and partners_deliveryattempt (their columns, defaults and
indexes, copied with LIKE ... INCLUDING; no foreign keys) in the database of --database-url, which must hold the
project's migrated tables: --rows rows spread over four months, then the oldest month removed two ways.
- batched: one unpartitioned table; DELETE by primary key in batches of --batch-size, a transaction each, as
  postbacks_project/retention.py does; then VACUUM; then VACUUM FULL (which locks the table while it rewrites it).
- partitioned: the same rows in a table PARTITION BY RANGE of its date, one partition per month (the primary key
  becomes (id, date), as PostgreSQL requires); ALTER TABLE ... DETACH PARTITION, then DROP TABLE.
Reported per table and way: seconds, rows/s, and pg_total_relation_size before, after, and after each VACUUM.
The scratch tables are dropped at the end.

    .venv/bin/python bench/partitions.py --database-url postgres://postgres@127.0.0.1:5432/postbacks_NAME
        [--rows 1000000] [--batch-size 5000] [--json]
"""

import argparse
import datetime
import json
import os
import sys
import time

import psycopg

TABLES = (("receiver_receivedpostback", "received_at"), ("partners_deliveryattempt", "created_at"))
MONTHS = 4
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
# What a stored request or attempt carries, roughly: the headers a network or partner sends, a short body.
HEADERS = json.dumps({f"X-Header-{n}": "v" * 24 for n in range(12)})


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a database with the project's tables (migrated)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per table, over four months (1,000,000)")
    parser.add_argument("--batch-size", type=int, default=5000, help="rows per DELETE transaction (5000)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser.parse_args(argv)


def value_for(column, data_type, length, date_column):
    """An SQL expression filling `column` for row s.n: the date spreads the rows evenly over MONTHS months."""
    if column == date_column:
        return f"TIMESTAMPTZ '{START.isoformat()}' + (s.n * INTERVAL '{MONTHS * 30} days' / %(rows)s)"
    if data_type == "jsonb":
        return f"'{HEADERS}'::jsonb"
    if data_type == "bytea":
        return "convert_to(repeat('b', 200), 'UTF8')"
    if data_type == "character varying":
        return f"left(md5(s.n::text), {min(length, 32)})"
    if data_type == "text":
        return "md5(s.n::text) || repeat('t', 48)"
    if data_type in ("smallint", "integer", "bigint", "numeric"):
        return "(s.n %% 500)"
    if data_type == "boolean":
        return "false"
    if data_type == "inet":
        return "'127.0.0.1'::inet"
    if data_type.startswith("timestamp"):
        return "now()"
    raise ValueError(f"{column}: no filler for {data_type}")


def fill_sql(conn, source, target, date_column):
    columns = conn.execute(
        "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns "
        "WHERE table_name = %s AND column_name <> 'id' ORDER BY ordinal_position",
        [source],
    ).fetchall()
    names = ", ".join(name for name, _, _ in columns)
    values = ", ".join(value_for(name, kind, length, date_column) for name, kind, length in columns)
    return f"INSERT INTO {target} ({names}) SELECT {values} FROM generate_series(1, %(rows)s) AS s(n)"


def size(conn, table):
    return conn.execute("SELECT pg_total_relation_size(%s)", [table]).fetchone()[0]


def partitioned_size(conn, table):
    return conn.execute(
        "SELECT COALESCE(SUM(pg_total_relation_size(inhrelid)), 0)::bigint FROM pg_inherits "
        "WHERE inhparent = %s::regclass",
        [table],
    ).fetchone()[0]


def cutoff():
    return START + datetime.timedelta(days=30)


def batched(conn, source, date_column, rows, batch_size):
    table = f"scratch_batched_{source}"
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE {table} (LIKE {source} INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING IDENTITY)")
    conn.execute(fill_sql(conn, source, table, date_column), {"rows": rows})
    conn.execute(f"VACUUM ANALYZE {table}")
    before = size(conn, table)
    deleted, transactions, longest = 0, 0, 0.0
    started = time.perf_counter()
    while True:
        begun = time.perf_counter()
        with conn.transaction():
            count = conn.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {date_column} < %s "
                f"ORDER BY id LIMIT %s)",
                [cutoff(), batch_size],
            ).rowcount
        longest = max(longest, time.perf_counter() - begun)
        if not count:
            break
        deleted += count
        transactions += 1
    seconds = time.perf_counter() - started
    after = size(conn, table)
    began = time.perf_counter()
    conn.execute(f"VACUUM {table}")
    vacuum_seconds = time.perf_counter() - began
    after_vacuum = size(conn, table)
    began = time.perf_counter()
    conn.execute(f"VACUUM FULL {table}")
    full_seconds = time.perf_counter() - began
    after_full = size(conn, table)
    conn.execute(f"DROP TABLE {table}")
    return {
        "way": "batched DELETE",
        "rows_removed": deleted,
        "seconds": round(seconds, 2),
        "rows_per_s": round(deleted / seconds) if seconds else None,
        "transactions": transactions,
        "longest_transaction_ms": round(longest * 1000, 1),
        "bytes_before": before,
        "bytes_after": after,
        "bytes_after_vacuum": after_vacuum,
        "vacuum_seconds": round(vacuum_seconds, 2),
        "bytes_after_vacuum_full": after_full,
        "vacuum_full_seconds": round(full_seconds, 2),
    }


def partitioned(conn, source, date_column, rows):
    table = f"scratch_parted_{source}"
    conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    conn.execute(
        f"CREATE TABLE {table} (LIKE {source} INCLUDING DEFAULTS INCLUDING IDENTITY, "
        f"PRIMARY KEY (id, {date_column})) PARTITION BY RANGE ({date_column})"
    )
    for index in conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE '%%_pkey'", [source]
    ).fetchall():
        conn.execute(_index_on(index[0], source, table))
    for month in range(MONTHS + 1):
        low, high = START + datetime.timedelta(days=30 * month), START + datetime.timedelta(days=30 * (month + 1))
        conn.execute(
            f"CREATE TABLE {table}_m{month} PARTITION OF {table} FOR VALUES FROM ('{low.isoformat()}') "
            f"TO ('{high.isoformat()}')"
        )
    conn.execute(fill_sql(conn, source, table, date_column), {"rows": rows})
    conn.execute(f"VACUUM ANALYZE {table}")
    removed = conn.execute(f"SELECT COUNT(*) FROM {table}_m0").fetchone()[0]
    before = partitioned_size(conn, table)
    started = time.perf_counter()
    with conn.transaction():
        conn.execute(f"ALTER TABLE {table} DETACH PARTITION {table}_m0")
        conn.execute(f"DROP TABLE {table}_m0")
    seconds = time.perf_counter() - started
    after = partitioned_size(conn, table)
    conn.execute(f"DROP TABLE {table} CASCADE")
    return {
        "way": "DETACH + DROP of a month",
        "rows_removed": removed,
        "seconds": round(seconds, 3),
        "rows_per_s": round(removed / seconds) if seconds else None,
        "transactions": 1,
        "longest_transaction_ms": round(seconds * 1000, 1),
        "bytes_before": before,
        "bytes_after": after,
    }


def _index_on(definition, source, table):
    """The source's CREATE INDEX, unnamed, on the partitioned table (PostgreSQL names it and each partition's)."""
    head, tail = definition.split(f" ON public.{source} ", 1)
    unique = "UNIQUE " if head.startswith("CREATE UNIQUE") else ""
    return f"CREATE {unique}INDEX ON {table} {tail}"


def run(args):
    report = {
        "run": {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "load_average": [round(load, 2) for load in os.getloadavg()],
            "rows": args.rows,
            "batch_size": args.batch_size,
        },
        "results": [],
    }
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        report["run"]["postgres"] = conn.execute("SHOW server_version").fetchone()[0]
        for source, date_column in TABLES:
            print(f"[bench] {source}: {args.rows:,} rows, batched", file=sys.stderr, flush=True)
            deleted = batched(conn, source, date_column, args.rows, args.batch_size)
            report["results"].append({"table": source, **deleted})
            print(f"[bench] {source}: {args.rows:,} rows, partitioned", file=sys.stderr, flush=True)
            report["results"].append({"table": source, **partitioned(conn, source, date_column, args.rows)})
    report["markdown"] = markdown(report)
    return report


def mb(value):
    return "-" if value is None else f"{value / 1024 / 1024:.1f}"


def markdown(report):
    run = report["run"]
    lines = [
        "## Partitions against batched deletes (bench/partitions.py, PostgreSQL)",
        "",
        f"{run['rows']:,} rows per table over four months, the oldest month (a quarter) removed; scratch tables "
        f"shaped like the real ones, PostgreSQL {run['postgres']}, {run['date']}, load average "
        f"{run['load_average'][0]} on 2 cores. Sizes are pg_total_relation_size (table, indexes, TOAST) in MB.",
        "",
        "| table | way | rows removed | s | rows/s | transactions | longest tx ms | MB before | MB after "
        "| MB after VACUUM (s) | MB after VACUUM FULL (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        vacuum = f"{mb(r['bytes_after_vacuum'])} ({r['vacuum_seconds']})" if "bytes_after_vacuum" in r else "-"
        full = "-"
        if "bytes_after_vacuum_full" in r:
            full = f"{mb(r['bytes_after_vacuum_full'])} ({r['vacuum_full_seconds']})"
        lines.append(
            f"| {r['table']} | {r['way']} | {r['rows_removed']:,} | {r['seconds']} | {r['rows_per_s']:,} | "
            f"{r['transactions']} | {r['longest_transaction_ms']} | {mb(r['bytes_before'])} | {mb(r['bytes_after'])} "
            f"| {vacuum} | {full} |"
        )
    return "\n".join([*lines, ""])


def main(argv=None):
    args = parse_args(argv)
    report = run(args)
    print(json.dumps(report, indent=2) if args.json else report["markdown"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
