"""Where an accepted postback's time goes: the receiver in-process under cProfile, beside the two baselines.

No HTTP server and no load generator: Django's test client calls the bare view, the one-insert view and
the receiver in turn, in one process, on a fresh database. The ratios show what Python costs on top
of the database, and the profile names the parts.

    .venv/bin/python bench/receiver_profile.py [--databases sqlite,postgres] [--requests 2000] [--json]
"""

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from common import add_common_arguments, check_databases, django_env, each_database, progress, run_info, run_python
from forwarding_profile import profile_entry, top_functions

# (label, file, function, only its calls from this file and function); files are path suffixes.
PARTS = [
    ("the view, all of it", "receiver/views.py", "view", None),
    ("  capture(): read and mask the request", "receiver/inbound.py", "capture", None),
    ("  network lookup: this process's copy, unconfirmed (no SELECT)", "receiver/services.py", "networks", None),
    ("  rate limits (cache)", "receiver/security.py", "rate_limited", None),
    ("  raw_params() + normalise()", "receiver/params.py", "normalise", None),
    ("  find_click(): SELECT click, offer and config token, SQL built once", "receiver/rows.py", "click_for", None),
    ("  record_conversion(): the writes", "receiver/services.py", "record_conversion", None),
    (
        "    PostgreSQL: the four rows built, then one statement",
        "receiver/services.py",
        "_accept_in_one_statement",
        None,
    ),
    ("      rows.insert_chained(): the chained INSERTs", "receiver/rows.py", "insert_chained", None),
    (
        "    SQLite (or a repeat): the transaction's lock, BEGIN, COMMIT",
        "postbacks_project/db.py",
        "write_transaction",
        None,
    ),
    ("      COMMIT", "django/db/transaction.py", "__exit__", ("postbacks_project/db.py", "write_transaction")),
    ("    insert_conversion(): INSERT ... ON CONFLICT DO NOTHING", "receiver/services.py", "insert_conversion", None),
    ("    store(): build the request row", "receiver/services.py", "store", None),
    ("    the request row: INSERT", "receiver/rows.py", "insert", ("receiver/services.py", "record_conversion")),
    ("    open_event(): INSERT event (the outbox), points, the signal", "receiver/services.py", "open_event", None),
    ("      ledger.settle() (no user here: nothing to credit)", "receiver/ledger.py", "settle", None),
    ("    the signal: the drainer woken after commit", "partners/forwarding.py", "event_created", None),
    ("      the broker publish (once per burst)", "postbacks_project/enqueue.py", "_wake", None),
    ("  JsonResponse", "django/http/response.py", "__init__", ("receiver/views.py", "_answer")),
    ("in all of the above: SQL, Django's execute()", "django/db/backends/utils.py", "_execute", None),
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--requests", type=int, default=2000, help="requests per target (default 2000)")
    parser.add_argument("--partners", type=int, default=2, help="active partners, so deliveries are created too")
    parser.add_argument("--quick", action="store_true", help="300 requests per target")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    check_databases(parser, args)
    if args.quick:
        args.requests = 300
    return args


def child(requests, partners):
    """In the project's environment: migrate, make a network and partners, time each target, profile the receiver."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, for Django
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from partners.models import Partner
    from receiver.models import Network

    call_command("migrate", "--noinput", verbosity=0)
    network = Network.objects.create(name="profile")
    for number in range(partners):
        Partner.objects.create(name=f"p{number}", postback_url=f"https://p{number}.example/pb?c={{click_id}}")
    client = Client(HTTP_HOST="127.0.0.1")

    def run(target, count, tag):
        started = time.perf_counter()
        for number in range(count):
            if target == "receiver":
                answer = client.get(f"/postback/{network.key}/", {"click_id": f"{tag}-{number}", "payout": "1.5"})
            else:
                answer = client.get(f"/bench/{target}/")
            assert answer.status_code == 200, answer.content
        return (time.perf_counter() - started) / count * 1000

    for target in ("bare", "insert", "receiver"):
        run(target, max(50, requests // 10), f"warm-{target}")
    timings = {target: run(target, requests, f"timed-{target}") for target in ("bare", "insert", "receiver")}
    profiler = cProfile.Profile()
    profiler.enable()
    run("receiver", requests, "profiled")
    profiler.disable()
    stats = pstats.Stats(profiler)
    parts = []
    for label, file, function, caller in PARTS:
        calls, cumulative = profile_entry(stats, file, function, caller)
        parts.append({"part": label, "calls": round(calls / requests, 2), "ms": round(cumulative / requests * 1000, 3)})
    print(
        json.dumps(
            {
                "ms_per_request": {name: round(ms, 3) for name, ms in timings.items()},
                "receiver_over_insert": round(timings["insert"] / timings["receiver"], 3),
                "receiver_over_bare": round(timings["bare"] / timings["receiver"], 3),
                "profiled_ms_per_request": round(stats.total_tt / requests * 1000, 3),
                "parts": parts,
                "top_own_time": top_functions(stats, 2, requests, limit=15),
            }
        )
    )


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        child(args.requests, args.partners)
        return 0
    run = run_info(args, requests=args.requests, partners=args.partners)
    report = {}
    with tempfile.TemporaryDirectory(prefix="postbacks-profile-") as tmp:
        for label, database, why in each_database(args, Path(tmp)):
            if database is None:
                report[label] = {"skipped": why}
                continue
            with database as url:
                progress(f"{label}: {args.requests} requests per target, then the receiver profiled")
                env = django_env(url, Path(tmp) / label, BENCHMARK_ENDPOINTS="true", RECEIVER_RATE_LIMIT="")
                os.makedirs(Path(tmp) / label, exist_ok=True)
                output = run_python(
                    env,
                    "bench/receiver_profile.py",
                    "--child",
                    "--requests",
                    str(args.requests),
                    "--partners",
                    str(args.partners),
                )
                report[label] = json.loads(output.strip().splitlines()[-1])
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(markdown(report))
    if args.out:
        args.out.write_text(json.dumps({"run": run, "databases": report, "markdown": markdown(report)}, indent=2))
    return 0


def markdown(report):
    lines = [
        "## Receiver profile (bench/receiver_profile.py)",
        "",
        "In one process, through Django's test client: no server, no load generator, so the ratios show what the",
        "receiver's Python and queries cost over the two baselines. Profiled times are inflated by cProfile;",
        "compare the parts with each other.",
        "",
    ]
    for label, run in report.items():
        if "skipped" in run:
            lines.append(f"**{label}**: skipped ({run['skipped']})\n")
            continue
        ms = run["ms_per_request"]
        lines.append(
            f"**{label}**, in-process (no server): bare {ms['bare']} ms, one insert {ms['insert']} ms, receiver "
            f"{ms['receiver']} ms per request; receiver = {run['receiver_over_insert']} of the one-insert view, "
            f"{run['receiver_over_bare']} of the bare view.\n"
        )
        lines.append("| part of an accepted postback (profiled) | calls | ms |")
        lines.append("|---|---|---|")
        lines += [f"| {part['part']} | {part['calls']} | {part['ms']} |" for part in run["parts"]]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
