"""Receiver throughput benchmark: the postback endpoint vs a bare and a one-insert Django view, same server and run.

Run with `.venv/bin/python bench/receiver.py` (or `make bench`); `--quick` for a smoke run, `--json` for
machine-readable output. Every target is measured on an empty table, then again with `--preload` accepted
postbacks already stored, to show that the indexes keep the receiver flat. See bench/README.md.
"""

import argparse
import json
import secrets
import statistics
import sys
from collections import Counter

from common import (
    BIN,
    add_common_arguments,
    check_databases,
    django_env,
    each_database,
    gunicorn,
    log_errors,
    main_loop,
    manage,
    print_table,
    progress,
    run_info,
    run_python,
)
from loadgen import WRK_INSTALL, run_load, targets, wrk_path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections (default 32)")
    parser.add_argument("--duration", type=float, help="measured seconds per target (default 21, quick 3)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds the duration is split into (default 3, quick 1)")
    parser.add_argument("--warmup", type=float, help="unmeasured seconds per target first (default 3, quick 1)")
    parser.add_argument(
        "--preload", type=int, help="accepted postbacks stored before the second measurement (default 1000000, "
        "quick 20000; 0: measure the empty table only)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="a ~1 minute smoke run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (default 8)")
    parser.add_argument(
        "--client", choices=["wrk", "asyncio"], help="load generator (default wrk if installed, else asyncio)"
    )
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    args.duration = args.duration or (3.0 if args.quick else 21.0)
    args.rounds = max(1, args.rounds or (1 if args.quick else 3))
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0)
    args.preload = args.preload if args.preload is not None else (20_000 if args.quick else 1_000_000)
    if args.client is None:
        args.client = "wrk" if wrk_path() else "asyncio"
        if args.client == "asyncio":
            progress(f"wrk not found: using the built-in asyncio client. For wrk: {WRK_INSTALL}")
    elif args.client == "wrk" and not wrk_path():
        parser.error(f"wrk not found; {WRK_INSTALL}")
    check_databases(parser, args)
    return args


def receiver_env(database_url, var_dir):
    return django_env(
        database_url,
        var_dir,
        BENCHMARK_ENDPOINTS="true",
        RECEIVER_RATE_LIMIT="",  # off: we measure the receiver's work, not how fast it says 429
    )


def prepare_database(env):
    """Migrate the fresh database and create the one network every receiver request posts to."""
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    created = json.loads(manage(env, "create_network", f"bench-{secrets.token_hex(3)}", "--json"))
    return created["key"]


COUNT_CONVERSIONS = """
from receiver.models import Conversion
print(Conversion.objects.filter(click_id__startswith={prefix!r}).count())
"""


def count_conversions(env, prefix):
    output = manage(env, "shell", "--no-imports", "-c", COUNT_CONVERSIONS.format(prefix=prefix))
    return int(output.strip().splitlines()[-1])


def preload(env, count, token):
    progress(f"preloading {count:,} accepted postbacks")
    output = run_python(env, "bench/preload.py", str(count), f"p{token}")
    return json.loads(output.strip().splitlines()[-1])


# --- One database ------------------------------------------------------------------------------------


def measure_all(label, env, key, port, args, stored):
    """Each target warmed up, then measured in interleaved rounds (bare, insert, receiver, bare, ...).

    A shared VM's speed drifts within minutes; interleaving puts each target through the same drift, and
    the median round of each (rates, latencies) keeps one slow stretch from deciding a ratio.
    """
    token = secrets.token_hex(3)  # keeps ids unique across phases and runs against the same database
    seconds = args.duration / args.rounds
    for target in targets(key):
        progress(f"{label}, {stored:,} stored: {target.name}: {args.warmup:g} s warm-up")
        run_load(args.client, port, target, f"w{token}", args.warmup, args.concurrency)
    rounds = {target.name: [] for target in targets(key)}
    for number in range(args.rounds):
        for target in targets(key):
            progress(f"{label}, {stored:,} stored: round {number + 1}/{args.rounds}: {target.name}: {seconds:g} s")
            rounds[target.name].append(
                run_load(args.client, port, target, f"m{token}r{number}", seconds, args.concurrency)
            )
    rows = [combine(measured) for measured in rounds.values()]
    ok = sum(row["ok"] for row in rounds["receiver"])
    counted = count_conversions(env, f"m{token}")
    # wrk drops the requests in flight at its deadline unanswered; the server may still store them.
    in_flight = args.concurrency * args.rounds if args.client == "wrk" else 0
    return {
        "stored_before": stored,
        "targets": rows,
        "ratios": ratios(rows),
        "conversions": {"in_db": counted, "successful_requests": ok, "match": ok <= counted <= ok + in_flight},
    }


def combine(measured):
    """One row per target from its rounds: medians of rates, latencies and CPU; counts and errors summed."""
    row = dict(measured[0])
    for key in ("req_per_s", "ok_per_s", "p50_ms", "p99_ms", "client_cpu_pct", "machine_cpu_pct"):
        values = [item[key] for item in measured if item[key] is not None]
        row[key] = round(statistics.median(values), 1) if values else None
    for key in ("requests", "ok", "errors"):
        row[key] = sum(item[key] for item in measured)
    kinds = Counter()
    for item in measured:
        kinds.update(item["error_kinds"])
    row["error_kinds"] = dict(kinds.most_common())
    row["rounds_ok_per_s"] = [item["ok_per_s"] for item in measured]
    return row


def bench_database(label, database, tmp, args):
    """Fresh database, one gunicorn; all targets on the empty table, then again after the preload."""
    with database as url:
        env = receiver_env(url, tmp / f"var-{label}")
        progress(f"{label}: migrating a fresh database")
        key = prepare_database(env)
        log_path = tmp / f"gunicorn-{label}.log"
        result = {"database": label, "phases": []}
        with gunicorn(env, log_path, args.workers, args.threads) as port:
            result["phases"].append(measure_all(label, env, key, port, args, 0))
            if args.preload:
                result["preload"] = preload(env, args.preload, secrets.token_hex(3))
                stored = result["preload"]["conversions"]
                result["phases"].append(measure_all(label, env, key, port, args, stored))
    result["server_errors"] = [{"count": n, "line": line} for line, n in log_errors(log_path)]
    if len(result["phases"]) == 2:
        empty, full = (phase["targets"][-1]["ok_per_s"] for phase in result["phases"])
        result["preloaded_per_empty"] = round(full / empty, 3) if empty else None
    return result


def ratios(rows):
    """Successful answers per second only: a receiver failing fast must not look like a fast receiver."""
    rate = {row["target"]: row["ok_per_s"] for row in rows}
    return {
        "receiver_per_bare": round(rate["receiver"] / rate["bare"], 3) if rate["bare"] else None,
        "receiver_per_insert": round(rate["receiver"] / rate["insert"], 3) if rate["insert"] else None,
    }


# --- Output ------------------------------------------------------------------------------------------

COLUMNS = [
    ("target", "target"),
    ("requests", "requests"),
    ("req/s", "req_per_s"),
    ("ok/s", "ok_per_s"),
    ("p50 ms", "p50_ms"),
    ("p99 ms", "p99_ms"),
    ("errors", "errors"),
    ("client cpu %", "client_cpu_pct"),
    ("machine cpu %", "machine_cpu_pct"),
]


def headline(run):
    return (
        f"gunicorn gthread {run['workers']}x{run['threads']}, {run['client']}, {run['concurrency']} connections, "
        f"{run['duration_s']:g} s per target in {run.get('rounds', 1)} interleaved rounds (medians) after "
        f"{run['warmup_s']:g} s warm-up, unique click ids"
    )


def print_report(report):
    print(f"{report['run']['date']}  {report['run']['cpus']} CPUs  {headline(report['run'])}")
    for result in report["results"]:
        print(f"\n== {result['database']}")
        if "skipped" in result:
            print(f"skipped: {result['skipped']}")
            continue
        for phase in result["phases"]:
            print(f"-- {phase['stored_before']:,} conversions stored before")
            print_table(phase["targets"], COLUMNS)
            r, c = phase["ratios"], phase["conversions"]
            print(f"receiver / bare {r['receiver_per_bare']}   receiver / insert {r['receiver_per_insert']}")
            verdict = "match" if c["match"] else "MISMATCH"
            print(f"conversions in db {c['in_db']}, successful receiver requests {c['successful_requests']}: {verdict}")
            for row in phase["targets"]:
                for kind, n in row["error_kinds"].items():
                    print(f"error  {row['target']}: {n} x {kind}")
        if "preload" in result:
            p = result["preload"]
            print(f"preload: {p['preloaded']:,} postbacks in {p['seconds']} s; receiver with them / empty: "
                  f"{result['preloaded_per_empty']}")  # fmt: skip
        for item in result["server_errors"]:
            print(f"server log  {item['count']} x {item['line']}")


def markdown(report):
    """The section of bench/results.md: one row per database, table size and target."""
    lines = [
        "## Receiver",
        "",
        headline(report["run"]) + ". Ratios use successful answers per second.",
        "",
        "| database | stored before | target | ok/s | ok/s by round | p50 ms | p99 ms | errors | / bare | / insert "
        "| conversions |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for result in report["results"]:
        if "skipped" in result:
            notes.append(f"{result['database']}: skipped ({result['skipped']})")
            continue
        for phase in result["phases"]:
            for row in phase["targets"]:
                receiver = row["target"] == "receiver"
                r = phase["ratios"] if receiver else {}
                check = ("ok" if phase["conversions"]["match"] else "MISMATCH") if receiver else ""
                lines.append(
                    f"| {result['database']} | {phase['stored_before']:,} | {row['target']} | {row['ok_per_s']} | "
                    f"{', '.join(map(str, row.get('rounds_ok_per_s', [])))} | {row['p50_ms']} | {row['p99_ms']} | "
                    f"{row['errors']} | {r.get('receiver_per_bare', '')} | "
                    f"{r.get('receiver_per_insert', '')} | {check} |"
                )
        if "preload" in result:
            p = result["preload"]
            notes.append(
                f"{result['database']}: {p['preloaded']:,} postbacks preloaded in {p['seconds']} s; receiver ok/s "
                f"with them / on the empty table: **{result['preloaded_per_empty']}**"
            )
    return "\n".join(lines + [""] + [f"- {note}" for note in notes]) + "\n"


# --- Main --------------------------------------------------------------------------------------------


def run(args, tmp):
    report = {
        "run": run_info(
            args,
            workers=args.workers,
            threads=args.threads,
            concurrency=args.concurrency,
            duration_s=args.duration,
            rounds=args.rounds,
            warmup_s=args.warmup,
            preload=args.preload,
            client=args.client,
        ),
        "results": [],
    }
    for label, database, skipped in each_database(args, tmp):
        if database is None:
            report["results"].append({"database": label, "skipped": skipped})
        else:
            report["results"].append(bench_database(label, database, tmp, args))
    report["markdown"] = markdown(report)
    return report


def failed(report):
    """Something needs a look: any error, or conversions that do not add up."""
    phases = [phase for r in report["results"] for phase in r.get("phases", [])]
    return any(not p["conversions"]["match"] or any(t["errors"] for t in p["targets"]) for p in phases)


def main(argv=None):
    args = parse_args(argv)
    if not (BIN / "gunicorn").exists():
        sys.exit(f"no gunicorn next to {sys.executable}; run `make setup`, then `.venv/bin/python bench/receiver.py`")
    return main_loop(args, run, print_report, failed)


if __name__ == "__main__":
    sys.exit(main())
