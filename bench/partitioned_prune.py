"""PostgreSQL: `manage.py prune`'s own work on a partitioned table: an old month dropped against batched deletes.

In a throw-away database, migrated (so the --table, delivery attempts or received postbacks, is partitioned by month:
partners/migrations/0016, receiver/migrations/0016): one conversion, event and delivery, then --rows rows in a month
400 days back, which gets its partition first, and postbacks_project.retention.prune() times its drop; then --rows
rows 500 days back, in no month's partition (the DEFAULT one, as rows a prune could not drop), and the same prune
deletes them in batches of --batch-size. Each received postback has an event pointing at it (an accepted postback's),
whose link the prune clears first. Reported for each: the prune's seconds (and of those, the DETACH + DROP
transaction's and the clearing of the month's links before it), the rows it removed and the links it cleared, and
the table's bytes (postbacks_project.tables: pg_total_relation_size summed over the partitions) before, after, and
after a plain VACUUM. The database is dropped at the end.

    .venv/bin/python bench/partitioned_prune.py [--table attempts|received] [--rows 200000] [--batch-size 5000]
        [--postgres-url URL] [--json]
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from common import DEFAULT_POSTGRES, django_env, manage, postgres_database, print_table, progress, run_python

# What an attempt carries, roughly: the masked URL, a few headers each way, a short body sent and answered.
HEADERS = json.dumps({f"X-Header-{n}": "v" * 24 for n in range(6)})
FILL_ATTEMPTS = f"""
INSERT INTO partners_deliveryattempt (delivery_id, number, task_id, created_at, url, method, request_headers,
    request_body, response_status, response_headers, response_body, duration_ms, error, error_code, error_detail)
SELECT %(delivery)s, s.n, md5(s.n::text), %(at)s::timestamptz + (s.n * INTERVAL '1 second'),
    'https://partner.example/postback?click=' || md5(s.n::text) || '&token=3f9a' || repeat('x', 40), 'GET',
    '{HEADERS}'::jsonb, repeat('b', 200), 500, '{HEADERS}'::jsonb, repeat('r', 300), 120, 'HTTP 500', 'http', ''
FROM generate_series(1, %(rows)s) AS s(n)
"""
# What a received postback carries, roughly: a query string of a dozen parameters, its headers, the parsed parameters;
# and the event an accepted one makes, pointing at it.
PARAMS = json.dumps({f"param_{n}": "v" * 16 for n in range(12)})
FILL_RECEIVED = f"""
WITH stored AS (
    INSERT INTO receiver_receivedpostback (received_at, method, path, query, content_type, body, body_truncated,
        headers, remote_addr, source, network_id, outcome, reason, message, params, click_id, status, payout,
        conversion_id, http_status, processing_ms)
    SELECT %(at)s::timestamptz + (s.n * INTERVAL '1 second'), 'GET', '/postback/****/',
        'click_id=' || md5(s.n::text) || '&payout=2.00&status=1&' || repeat('p=v&', 30), '', ''::bytea, false,
        '{HEADERS}'::jsonb, '203.0.113.7', 'postback', %(network)s, 'accepted', '', '', '{PARAMS}'::jsonb,
        md5(s.n::text), 'approved', 2, %(conversion)s, 200, 3
    FROM generate_series(1, %(rows)s) AS s(n)
    RETURNING id, received_at
)
INSERT INTO receiver_conversionevent (conversion_id, kind, from_status, to_status, payout, created_at, postback_id)
SELECT %(conversion)s, 'created', '', 'approved', 2, received_at, id FROM stored
"""
# --table: (its name, its model, its date column, the SQL that fills it).
TABLES = {
    "attempts": ("partners_deliveryattempt", "partners.DeliveryAttempt", "created_at", FILL_ATTEMPTS),
    "received": ("receiver_receivedpostback", "receiver.ReceivedPostback", "received_at", FILL_RECEIVED),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", choices=TABLES, default="attempts", help="the partitioned table (attempts)")
    parser.add_argument("--rows", type=int, default=200_000, help="rows in each old month (200,000)")
    parser.add_argument("--batch-size", type=int, default=5000, help="the prune's PRUNE_BATCH_SIZE (5000)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES, help="admin URL to create the bench database")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def child(rows, table_key):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, for Django
    import django

    django.setup()
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from partners.models import Delivery, Partner
    from postbacks_project import partitions, retention, tables
    from receiver.models import Conversion, ConversionEvent, Network

    network = Network.objects.create(name="Bench")
    partner = Partner.objects.create(name="Bench", postback_url="https://partner.example/postback?c={click_id}")
    conversion = Conversion.objects.create(network=network, click_id="c1", dedupe_id="t1", status="approved")
    event = ConversionEvent.objects.create(conversion=conversion, kind="created", to_status="approved")
    delivery = Delivery.objects.create(event=event, destination=partner, state="failed", attempts=rows)

    table, label, column, fill = TABLES[table_key]

    def table_bytes():
        return next(t.bytes for t in tables.measure().tables if t.model == label)

    # The DETACH + DROP transaction alone, which holds the table's lock; the prune's seconds count the month's rows too.
    drops = []
    drop = partitions.drop

    def timed_drop(*args):
        started = time.perf_counter()
        drop(*args)
        drops.append(time.perf_counter() - started)

    partitions.drop = timed_drop
    # And the clearing of the events' links into a month before its drop (received postbacks), in batches.
    unlinks = []
    unlink = retention._unlink_in_batches

    def timed_unlink(*args):
        started = time.perf_counter()
        cleared = unlink(*args)
        unlinks.append(time.perf_counter() - started)
        return cleared

    retention._unlink_in_batches = timed_unlink

    def vacuum():
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {table}")

    results = []
    for way, days in (("month dropped", 400), ("batched DELETE (DEFAULT partition)", 500)):
        at = partitions.month_of(timezone.now() - timedelta(days=days)) + timedelta(days=2)
        if way == "month dropped":
            [(name, low, high)] = partitions.missing_months(table, timezone.now(), start=at)[:1]
            partitions.create_month(table, column, name, low, high)
        progress(f"{way}: {rows} rows of {table} at {at:%Y-%m-%d}")
        with connection.cursor() as cursor:
            cursor.execute(
                fill,
                {"delivery": delivery.pk, "network": network.pk, "conversion": conversion.pk, "at": at, "rows": rows},
            )
        vacuum()
        before = table_bytes()
        row = next(r for r in retention.prune() if r["table"] == table)
        after = table_bytes()
        vacuum()
        results.append(
            {
                "way": way,
                "rows": row["rows"],
                "unlinked": row["unlinked"],
                "dropped": ", ".join(d["partition"] for d in row["dropped"]) or None,
                "batches": row["batches"],
                "seconds": row["seconds"],
                "drop_seconds": round(drops.pop(), 3) if drops else None,
                "unlink_seconds": round(unlinks.pop(), 3) if unlinks else None,
                "mb_before": round(before / 2**20, 1),
                "mb_after": round(after / 2**20, 1),
                "mb_after_vacuum": round(table_bytes() / 2**20, 1),
            }
        )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(json.dumps({"postgres": version, "table": table, "rows": rows, "results": results}))


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        child(args.rows, args.table)
        return 0
    with (
        tempfile.TemporaryDirectory(prefix="postbacks-partitions-") as var,
        postgres_database(args.postgres_url) as url,
    ):
        env = django_env(url, var, PRUNE_BATCH_SIZE=str(args.batch_size))
        manage(env, "migrate", "-v0")
        output = run_python(
            env, "bench/partitioned_prune.py", "--child", "--rows", str(args.rows), "--table", args.table
        )
    report = json.loads(output.strip().splitlines()[-1])
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"PostgreSQL {report['postgres']}, {report['rows']:,} rows of {report['table']} per old month")
    columns = [
        "way",
        "rows",
        "unlinked",
        "dropped",
        "batches",
        "seconds",
        "drop_seconds",
        "unlink_seconds",
        "mb_before",
        "mb_after",
        "mb_after_vacuum",
    ]
    print_table(report["results"], [(c, c) for c in columns])
    return 0


if __name__ == "__main__":
    sys.exit(main())
