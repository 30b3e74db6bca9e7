"""PostgreSQL: the drainer's per-round read of due deliveries over a backlog the table's statistics have not seen.

A replay or a partner coming back up makes thousands of deliveries due at once, and autovacuum analyzes a table only
after a tenth of it changed: until then the planner believes almost nothing is due. In a throw-away database,
migrated: --finished deliveries, all succeeded, then ANALYZE (what a live table's statistics say), then --due due
ones with autovacuum off for the table (the lag, kept for the run). Timed, the median of --rounds of the drainer's
candidates query (`partners.drainer._candidates`, 64 rows, as a round of 16 asks) in the lock's transaction:

1. the indexes and planner setting of today (`delivery_due` on state, next_attempt_at, id; no bitmap scans);
2. the indexes before 06a21d4 (one on state alone, `delivery_due` on state, next_attempt_at; bitmap scans allowed);
3. those old indexes once ANALYZE has seen the backlog: the baseline, what the table gives when its statistics are
   current.

The ratio to the baseline is the figure to compare: near 1, a round costs what it costs on current statistics.

    .venv/bin/python bench/stale_backlog.py [--finished 50000] [--due 30000] [--rounds 7] [--postgres-url URL]
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import (
    DEFAULT_POSTGRES,
    django_env,
    manage,
    postgres_database,
    print_table,
    progress,
    run_python,
    seed_deliveries,
)

PARTNERS = 10
OLD_INDEXES = [
    "DROP INDEX delivery_due",
    "CREATE INDEX bench_delivery_state ON partners_delivery (state)",
    "CREATE INDEX bench_delivery_due ON partners_delivery (state, next_attempt_at)",
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finished", type=int, default=50_000, help="succeeded deliveries the statistics saw")
    parser.add_argument("--due", type=int, default=30_000, help="due deliveries they did not see")
    parser.add_argument("--rounds", type=int, default=7, help="timed reads per way (the median is reported)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES, help="admin URL to create the bench database")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def child(finished, due, rounds):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, for Django
    import django

    django.setup()
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from partners import drainer
    from partners.models import Delivery, Partner
    from receiver.models import Network, Offer

    def execute(*statements):
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    network = Network.objects.create(name="stale network")
    Offer.objects.create(network=network, name="offer", url="https://offer.example/{click_id}")
    partners = [
        Partner.objects.create(name=f"P{n}", slug=f"p{n}", postback_url="http://127.0.0.1:9/pb?c={click_id}")
        for n in range(PARTNERS)
    ]
    progress(f"{finished:,} finished deliveries, ANALYZE, then {due:,} due ones")
    seed_deliveries("stale network", partners, finished // PARTNERS, "done")
    Delivery.objects.update(state="succeeded")
    execute("ANALYZE", "ALTER TABLE partners_delivery SET (autovacuum_enabled = false)")
    seed_deliveries("stale network", partners, due // PARTNERS, "due")
    with CaptureQueriesContext(connection) as read:
        drainer._candidates(timezone.now(), [], 64)
    candidates = read.captured_queries[-1]["sql"]

    def timed(turn_sql):
        seconds = []
        for _ in range(rounds):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(turn_sql, [drainer.LOCKERS])
                started = time.perf_counter()
                cursor.execute(candidates)
                cursor.fetchall()
                seconds.append(time.perf_counter() - started)
        return statistics.median(seconds) * 1000

    results = [{"way": "today: delivery_due with id, no bitmap scans", "ms": timed(drainer.TAKE_TURN_SQL)}]
    execute(*OLD_INDEXES)
    results.append({"way": "before 06a21d4, statistics behind", "ms": timed("SELECT pg_advisory_xact_lock(%s)")})
    execute("ANALYZE partners_delivery")
    baseline = timed("SELECT pg_advisory_xact_lock(%s)")
    results.append({"way": "before 06a21d4, statistics current (baseline)", "ms": baseline})
    for row in results:
        row["ms"] = round(row["ms"], 2)
        row["/ baseline"] = round(row["ms"] / baseline, 2)
    print(json.dumps({"finished": finished, "due": due, "rounds": rounds, "results": results}))


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        child(args.finished, args.due, args.rounds)
        return 0
    with tempfile.TemporaryDirectory(prefix="postbacks-stale-") as var, postgres_database(args.postgres_url) as url:
        env = django_env(url, var)
        manage(env, "migrate", "-v0")
        output = run_python(
            env,
            "bench/stale_backlog.py",
            "--child",
            *("--finished", str(args.finished), "--due", str(args.due)),
            *("--rounds", str(args.rounds)),
        )
    report = json.loads(output.strip().splitlines()[-1])
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"PostgreSQL: {report['due']:,} due deliveries unseen by statistics of {report['finished']:,} finished ones; "
        f"median of {report['rounds']} reads of a round's candidates (64)"
    )
    print_table(report["results"], [(c, c) for c in ("way", "ms", "/ baseline")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
