"""How fast `manage.py prune` deletes old received postbacks, against one DELETE of the same rows in the same run.

For each database: a fresh one, one postback accepted by the receiver, then --rows copies of it (request,
conversion and event: bench/preload.py) made old. The baseline clears their events' links and deletes them in one
UPDATE and one DELETE, in one transaction: the fastest way there is, holding the lock for all of it. The same rows
are made again and postbacks_project.retention.prune() deletes them in batches of PRUNE_BATCH_SIZE. Reported: rows
per second of each, their ratio, and how long the lock is held at a time (each batch's transaction).

Then, unless --no-load, the receiver under load (gunicorn as `make run` starts it, bench/loadgen.py's asyncio
client): as many old rows are made again and `manage.py prune` runs in a process of its own while postbacks keep
arriving, in windows of WINDOW seconds until it exits; then as many windows without a prune. Reported: the
receiver's successful answers per second and p99 latency (medians of the windows) with the prune and without.

    .venv/bin/python bench/prune.py [--rows 1000000] [--batch-size 5000] [--databases sqlite,postgres] [--json]
"""

import argparse
import json
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from common import (
    BIN,
    add_common_arguments,
    check_databases,
    django_env,
    each_database,
    gunicorn,
    main_loop,
    manage,
    print_table,
    progress,
    run_info,
    run_python,
    start,
    stop,
)
from loadgen import run_load, targets

WINDOW = 2.0  # seconds of load per measurement window
CONCURRENCY = 16  # the load's connections: enough to keep one gunicorn (8 threads) busy


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--rows", type=int, default=1_000_000, help="old received postbacks to delete (1,000,000)")
    parser.add_argument("--batch-size", type=int, default=5000, help="the prune's PRUNE_BATCH_SIZE (5000)")
    parser.add_argument("--quick", action="store_true", help="20,000 rows")
    parser.add_argument("--no-load", action="store_true", help="skip the receiver's throughput with and without")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fill", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    check_databases(parser, args)
    if args.quick:
        args.rows = 20_000
    return args


def child(rows, batch_size):
    """In the project's environment: the baseline, then the prune, on the same number of old rows."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, for Django
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client, override_settings
    from django.utils import timezone
    from preload import preload

    from postbacks_project import retention
    from postbacks_project.db import write_transaction
    from receiver.models import ConversionEvent, Network, ReceivedPostback

    call_command("migrate", "--noinput", verbosity=0)
    network = Network.objects.create(name="prune")
    answer = Client(HTTP_HOST="127.0.0.1").get(f"/postback/{network.key}/", {"click_id": "template", "payout": "1"})
    assert answer.json()["success"], answer.content
    template = ReceivedPostback.objects.get()
    now = timezone.now()
    old = now - timedelta(days=400)
    cutoff = now - timedelta(days=90)

    def fill(prefix):
        made = preload(rows, prefix)
        ReceivedPostback.objects.filter(pk__gt=template.pk).update(received_at=old)
        if connection.vendor == "postgresql":
            # The deleted rows of the round before are dead tuples until vacuumed: both rounds start vacuumed.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        return made["seconds"]

    insert_seconds = fill("baseline")
    doomed = ReceivedPostback.objects.filter(received_at__lt=cutoff)
    started = time.perf_counter()
    with write_transaction():
        unlinked = ConversionEvent.objects.filter(postback__in=doomed.values("pk")).update(postback=None)
        deleted = doomed._raw_delete(doomed.db)
    baseline_seconds = time.perf_counter() - started
    assert deleted == unlinked == rows, (deleted, unlinked)

    fill("prune")
    batches = []
    timed = write_transaction

    @contextmanager
    def timing_transaction():
        begun = time.perf_counter()
        with timed():
            yield
        batches.append(time.perf_counter() - begun)

    retention.write_transaction = timing_transaction
    # Only the received postbacks: the other kinds are empty here, and their reads would only add noise.
    settings_days = {table.setting: 0 for table in retention.TABLES} | {"RETAIN_RECEIVED_DAYS": 90}
    with override_settings(PRUNE_BATCH_SIZE=batch_size, **settings_days):
        started = time.perf_counter()
        report = retention.prune(now=now)
        prune_seconds = time.perf_counter() - started
    received = report[0]
    assert received["rows"] == received["unlinked"] == rows, received
    assert ReceivedPostback.objects.count() == 1  # the template, which is recent
    print(
        json.dumps(
            {
                "rows": rows,
                "batch_size": batch_size,
                "insert": {"seconds": round(insert_seconds, 2), "rows_per_s": round(rows / insert_seconds)},
                "baseline": {
                    "seconds": round(baseline_seconds, 2),
                    "rows_per_s": round(rows / baseline_seconds),
                    "longest_transaction_ms": round(baseline_seconds * 1000, 1),
                },
                "prune": {
                    "seconds": round(prune_seconds, 2),
                    "rows_per_s": round(rows / prune_seconds),
                    "batches": received["batches"],
                    "transaction_ms_median": round(statistics.median(batches) * 1000, 1),
                    "longest_transaction_ms": round(max(batches) * 1000, 1),
                },
                "prune_per_baseline": round(baseline_seconds / prune_seconds, 3),
            }
        )
    )


def fill(rows):
    """In the project's environment: `rows` more copies of the template postback, made old; prints their count."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone
    from preload import preload

    from receiver.models import ReceivedPostback

    last = ReceivedPostback.objects.order_by("-pk").values_list("pk", flat=True).first()
    preload(rows, "load")
    old = ReceivedPostback.objects.filter(pk__gt=last).update(received_at=timezone.now() - timedelta(days=400))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(json.dumps({"old_rows": old}))


def windows_summary(windows):
    return {
        "windows": len(windows),
        "ok_per_s": round(statistics.median(w["ok_per_s"] for w in windows), 1),
        "p99_ms": round(statistics.median(w["p99_ms"] for w in windows), 1),
        "errors": sum(w["errors"] for w in windows),
    }


def under_load(label, env, var, args):
    """The receiver's throughput while `manage.py prune` deletes as many old rows, then without a prune."""
    key = json.loads(manage(env, "create_network", f"prune-load-{label}", "--json"))["key"]
    progress(f"{label}: {args.rows:,} old rows made again for the prune under load")
    made = json.loads(run_python(env, "bench/prune.py", "--fill", str(args.rows)).strip().splitlines()[-1])
    server_env = {**env, "BENCHMARK_ENDPOINTS": "true", "RECEIVER_RATE_LIMIT": "", "PRUNE_BATCH_SIZE":
                  str(args.batch_size)}  # fmt: skip
    receiver = next(target for target in targets(key) if target.name == "receiver")
    with gunicorn(server_env, var / "gunicorn.log", 1, 8) as port:
        run_load("asyncio", port, receiver, "warm", WINDOW, CONCURRENCY)
        progress(f"{label}: the receiver under load while manage.py prune runs")
        command = [str(BIN / "python"), "manage.py", "prune", "--json"]
        began = time.perf_counter()
        prune = start(command, server_env, var / "prune.log")
        during = []
        try:
            while not during or prune.poll() is None:
                during.append(run_load("asyncio", port, receiver, f"d{len(during)}", WINDOW, CONCURRENCY))
        finally:
            stop(prune)
        prune_seconds = time.perf_counter() - began
        if prune.returncode != 0:
            raise RuntimeError(f"manage.py prune failed ({prune.returncode}): {(var / 'prune.log').read_text()}")
        progress(f"{label}: the receiver under load, no prune, {len(during)} windows")
        without = [run_load("asyncio", port, receiver, f"n{i}", WINDOW, CONCURRENCY) for i in range(len(during))]
    with_prune, no_prune = windows_summary(during), windows_summary(without)
    return {
        "old_rows": made["old_rows"],
        "prune_seconds": round(prune_seconds, 2),
        "with_prune": with_prune,
        "without": no_prune,
        "with_per_without": round(with_prune["ok_per_s"] / no_prune["ok_per_s"], 3) if no_prune["ok_per_s"] else None,
    }


def run(args, tmp):
    report = {"run": run_info(args, rows=args.rows, batch_size=args.batch_size), "results": []}
    for label, database, why in each_database(args, tmp):
        if database is None:
            report["results"].append({"database": label, "skipped": why})
            continue
        with database as url:
            progress(f"{label}: {args.rows:,} rows made twice, deleted by one DELETE, then by the prune")
            var = tmp / label
            var.mkdir(exist_ok=True)
            env = django_env(url, var)
            output = run_python(env, "bench/prune.py", "--child", "--rows", str(args.rows), "--batch-size",
                                str(args.batch_size))  # fmt: skip
            result = {"database": label, **json.loads(output.strip().splitlines()[-1])}
            if not args.no_load:
                result["under_load"] = under_load(label, env, var, args)
            report["results"].append(result)
    report["markdown"] = markdown(report)
    return report


def table_rows(report):
    found = []
    for result in report["results"]:
        if "skipped" in result:
            found.append({"database": result["database"], "how": f"skipped: {result['skipped']}"})
            continue
        for how, key in (("one DELETE (baseline)", "baseline"), ("prune, batches", "prune")):
            row = result[key]
            found.append({"database": result["database"], "how": how, "rows": f"{result['rows']:,}",
                          "seconds": row["seconds"], "rows_per_s": row["rows_per_s"],
                          "batches": row.get("batches", 1), "median_ms": row.get("transaction_ms_median"),
                          "longest_ms": row["longest_transaction_ms"]})  # fmt: skip
    return found


COLUMNS = [("database", "database"), ("how", "how"), ("rows", "rows"), ("s", "seconds"), ("rows/s", "rows_per_s"),
           ("transactions", "batches"), ("median tx ms", "median_ms"), ("longest tx ms", "longest_ms")]  # fmt: skip


def markdown(report):
    run = report["run"]
    lines = [
        "## Prune (bench/prune.py)",
        "",
        f"{run['rows']:,} old received postbacks (each with its conversion and event, whose link is cleared) deleted "
        f"by `retention.prune()` in batches of {run['batch_size']:,}, against one UPDATE + one DELETE of as many "
        "rows in one transaction, same database, same run. `prune / baseline` is the prune's rows/s over the "
        "baseline's; the longest transaction is how long the receiver may wait for the write lock.",
        "",
        "| " + " | ".join(title for title, _ in COLUMNS) + " | prune / baseline |",
        "|" + "---|" * (len(COLUMNS) + 1),
    ]
    ratios = {r["database"]: r.get("prune_per_baseline") for r in report["results"]}
    for row in table_rows(report):
        ratio = ratios[row["database"]] if row.get("how", "").startswith("prune") else ""
        cells = ["-" if row.get(key) is None else str(row[key]) for _, key in COLUMNS]
        lines.append("| " + " | ".join(cells) + f" | {ratio} |")
    inserts = [f"{r['database']} {r['insert']['rows_per_s']:,} rows/s" for r in report["results"] if "insert" in r]
    if inserts:
        lines += ["", f"For scale, making the rows (three INSERT ... SELECT): {', '.join(inserts)}."]
    loaded = [r for r in report["results"] if "under_load" in r]
    if loaded:
        lines += [
            "",
            "### The receiver while a prune runs",
            "",
            f"`manage.py prune` deleting as many old rows in its own process while the receiver (one gunicorn, 8 "
            f"threads) takes postbacks from {CONCURRENCY} connections, in {WINDOW:g} s windows until the prune exits; "
            "then as many windows without. Medians of the windows.",
            "",
            "| database | old rows | prune s | ok/s with prune | p99 ms with | ok/s without | p99 ms without "
            "| with / without | errors |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in loaded:
            load = r["under_load"]
            with_prune, without = load["with_prune"], load["without"]
            lines.append(
                f"| {r['database']} | {load['old_rows']:,} | {load['prune_seconds']} | {with_prune['ok_per_s']} | "
                f"{with_prune['p99_ms']} | {without['ok_per_s']} | {without['p99_ms']} | {load['with_per_without']} | "
                f"{with_prune['errors'] + without['errors']} |"
            )
    return "\n".join([*lines, ""])


def print_report(report):
    print_table(table_rows(report), COLUMNS)
    for result in report["results"]:
        if "prune_per_baseline" in result:
            print(f"{result['database']}: prune / baseline = {result['prune_per_baseline']}")
        if "under_load" in result:
            load = result["under_load"]
            print(
                f"{result['database']}: receiver ok/s with a prune running {load['with_prune']['ok_per_s']}, "
                f"without {load['without']['ok_per_s']} ({load['with_per_without']}); p99 ms "
                f"{load['with_prune']['p99_ms']} / {load['without']['p99_ms']}"
            )


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        child(args.rows, args.batch_size)
        return 0
    if args.fill:
        fill(args.fill)
        return 0
    return main_loop(args, run, print_report, lambda report: False, prefix="postbacks-prune-")


if __name__ == "__main__":
    sys.exit(main())
