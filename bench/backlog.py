"""Backlog benchmark: 100,000 deliveries due at once to ten partners, one answering in 5 s and one down, drained
by one Celery worker (the Procfile's): how long until the healthy partners' deliveries all succeed, whether the
slow partner ever held more requests than its concurrency limit, and whether the dead one's breaker opened.

Run with `.venv/bin/python bench/backlog.py` (or `make bench`); `--quick` for a smoke run. See bench/README.md.
"""

import argparse
import contextlib
import json
import socket
import sys
import time
from pathlib import Path

from common import (
    BIN,
    HOST,
    ROOT,
    add_common_arguments,
    check_databases,
    django_env,
    each_database,
    log_errors,
    main_loop,
    manage,
    print_table,
    progress,
    redis_database,
    run_info,
    run_python,
    seed_deliveries,
    start,
    stop,
    wait_for,
)
from forwarding import WORKER_ERROR, WORKER_PREFIX, Probe, feeder_app, wake
from sink import sink, sink_stats

PARTNERS = 10  # of which one slow, one down, the rest healthy
SLOW_SECONDS = 5.0
TAG = "bl"
URL = "/pb?click_id={slug}-{{click_id}}&payout={{payout}}&event={{event}}"
POLL_SECONDS = 1.0
SIZES = {
    "deliveries": ((10_000, 100_000), "deliveries in the backlog, split evenly over the partners"),
    "timeout": ((600.0, 3600.0), "most seconds to wait for the healthy partners"),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10,000 deliveries")
    for name, ((quick, full), what) in SIZES.items():
        parser.add_argument(f"--{name}", type=type(full), help=f"{what} (default {full:,}, quick {quick:,})")
    parser.add_argument("--concurrency", type=int, default=8, help="the worker's threads (the Procfile's: 8)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    check_databases(parser, args)
    for name, ((quick, full), _what) in SIZES.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    args.deliveries -= args.deliveries % PARTNERS
    return args


# --- The project side: child processes with Django set up --------------------------------------------


def django_child(command, payload):
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    print(json.dumps({"setup": child_setup, "seed": child_seed, "health": child_health}[command](**payload)))


def child_setup(fast_url, slow_url, dead_url):
    """One network and offer; ten partners with the default limits: healthy ones, a slow one and a dead one."""
    from decimal import Decimal

    from django.conf import settings

    from partners.models import Partner
    from partners.signing import generate_secret
    from receiver.models import Network, Offer

    network = Network.objects.create(name="backlog network")
    Offer.objects.create(network=network, name="backlog offer", url="https://offer.example/?c={click_id}")
    roles = {f"h{n}": fast_url for n in range(1, PARTNERS - 1)} | {"slow": slow_url, "dead": dead_url}
    partners = {
        slug: Partner.objects.create(
            name=f"backlog {slug}",
            slug=slug,
            postback_url=base + URL.format(slug=slug),
            share_value=Decimal("75"),
            signing_secret=generate_secret(),  # signed, as partners are: each request has its webhook-id
        ).pk
        for slug, base in roles.items()
    }
    return {
        "partners": partners,
        "partner_concurrency": settings.DELIVERY_PARTNER_CONCURRENCY,
        "drain_concurrency": settings.DELIVERY_DRAIN_CONCURRENCY,
        "breaker_failures": settings.DELIVERY_BREAKER_FAILURES,
        "broker_url": settings.CELERY_BROKER_URL,
        "transport_options": settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    }


def child_seed(count):
    """`count` conversions, each with its created event and one due delivery per partner, amounts fixed, in bulk."""
    from partners.models import Partner

    partners = list(Partner.objects.filter(name__startswith="backlog "))
    started = time.monotonic()
    deliveries = seed_deliveries("backlog network", partners, count, TAG)
    return {"deliveries": len(deliveries), "seconds": round(time.monotonic() - started, 1)}


def child_health(partner):
    from partners.models import DestinationHealth

    health = DestinationHealth.objects.filter(destination_id=partner).first()
    if health is None:
        return {"breaker": "closed", "consecutive_failures": 0, "opened_at": None}
    opened = health.opened_at.isoformat() if health.opened_at else None
    return {"breaker": health.breaker, "consecutive_failures": health.consecutive_failures, "opened_at": opened}


def in_django(env, command, **payload):
    output = run_python(env, str(Path(__file__).relative_to(ROOT)), "_django", command, json.dumps(payload))
    return json.loads(output.strip().splitlines()[-1])


# --- This process: no Django, plain SQL ----------------------------------------------------------------


def states(probe):
    """{partner id: {state: count}} of all deliveries."""
    found = {}
    for partner, state, n in probe.conn.execute(
        "SELECT destination_id, state, count(*) FROM partners_delivery GROUP BY destination_id, state"
    ).fetchall():
        found.setdefault(partner, {})[state] = n
    return found


def attempts_of(probe, partner):
    sql = (
        "SELECT count(*) FROM partners_deliveryattempt a JOIN partners_delivery d ON d.id = a.delivery_id "
        "WHERE d.destination_id = %s"
    )
    return probe.conn.execute(sql.replace("%s", probe.mark), (partner,)).fetchone()[0]


def refused_port():
    """A loopback port nothing listens on: connecting to it is refused, as to a partner that is down."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def drain_backlog(env, tmp, label, setup, args, ports):
    """Seed, start the worker, wake it, and watch until the healthy partners are done (or the timeout)."""
    fast_port, slow_port = ports
    partners = setup["partners"]
    healthy = [pk for slug, pk in partners.items() if slug.startswith("h")]
    per_partner = args.deliveries // PARTNERS
    progress(f"{label}: seeding {args.deliveries:,} due deliveries ({per_partner:,} per partner)")
    seeded = in_django(env, "seed", count=per_partner)
    probe = Probe(env["DATABASE_URL"])
    feeder = feeder_app(setup["broker_url"], setup["transport_options"])
    log_path = tmp / f"worker-{label}.log"
    command = [str(BIN / "python"), "-m", "celery", "-A", "postbacks_project", "worker", "--loglevel", "INFO"]
    command += ["--pool", "threads", "--concurrency", str(args.concurrency), "--without-mingle", "--without-gossip"]
    command += ["--beat", "--schedule", str(tmp / f"beat-{label}"), "--hostname", f"backlog-{label}@%h"]
    process = start(command, env, log_path)
    most_slow, timeline = 0, []
    try:
        wait_for(lambda: " ready." in log_path.read_text(errors="replace"), "worker start", 60, process, log_path)
        progress(f"{label}: worker threads x{args.concurrency} (with beat) started; waking its drainers")
        started = time.monotonic()
        wake(feeder, args.concurrency)
        done_at = None
        while time.monotonic() - started < args.timeout:
            time.sleep(POLL_SECONDS)
            now = states(probe)
            most_slow = max(most_slow, sink_stats(slow_port, f"slow-{TAG}")["most_in_flight"])
            succeeded = sum(now.get(pk, {}).get("succeeded", 0) for pk in healthy)
            elapsed = time.monotonic() - started
            timeline.append((round(elapsed, 1), succeeded))
            if succeeded == per_partner * len(healthy):
                done_at = elapsed
                break
            if process.poll() is not None:
                raise RuntimeError(f"{label}: the worker exited with {process.returncode}")
        final = states(probe)
        most_slow = max(most_slow, sink_stats(slow_port, f"slow-{TAG}")["most_in_flight"])
        health = in_django(env, "health", partner=partners["dead"])
        dead_attempts = attempts_of(probe, partners["dead"])
    finally:
        stop(process, timeout=30)
        feeder.control.purge()
        probe.close()
    fast = [sink_stats(fast_port, f"{slug}-{TAG}") for slug in partners if slug.startswith("h")]
    sent_once = all(s["requests"] == s["unique"] == s["webhook_ids"] == per_partner for s in fast)
    slow = sink_stats(slow_port, f"slow-{TAG}")
    return {
        "seeded": seeded,
        "per_partner": per_partner,
        "healthy_partners": len(healthy),
        "healthy_done": done_at is not None,
        "healthy_seconds": None if done_at is None else round(done_at, 1),
        "healthy_per_s": None if done_at is None else round(per_partner * len(healthy) / done_at, 1),
        "healthy_sent_once": sent_once,
        "healthy_states": {state: sum(final.get(pk, {}).get(state, 0) for pk in healthy) for state in STATES},
        "slow": {
            "limit": setup["partner_concurrency"],
            "most_in_flight": most_slow,
            "requests": slow["requests"],
            "succeeded": final.get(partners["slow"], {}).get("succeeded", 0),
            "within_limit": most_slow <= setup["partner_concurrency"],
        },
        "dead": {
            **health,
            "requests": dead_attempts,
            "breaker_failures": setup["breaker_failures"],
            "states": final.get(partners["dead"], {}),
        },
        "timeline": timeline[:: max(1, len(timeline) // 20)],
        "worker_log": log_errors(log_path, WORKER_ERROR, WORKER_PREFIX),
    }


STATES = ("pending", "sending", "retrying", "succeeded", "failed")


def bench_database(label, database, args, tmp, ports, dead_port):
    broker = redis_database(args.redis_url) if label == "postgres" else contextlib.nullcontext((None, ""))
    with database as url, broker as (redis_url, why):
        if why:
            progress(f"redis: not usable ({why}); PostgreSQL gets the filesystem broker too")
        env = django_env(
            url, tmp / f"var-{label}", CELERY_BROKER_URL=redis_url or "filesystem://localhost/",
            OUTBOUND_ALLOW_LOOPBACK="true",
        )  # fmt: skip
        progress(f"{label}: migrating a fresh database")
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        fast_url, slow_url = (f"http://{HOST}:{port}" for port in ports)
        setup = in_django(env, "setup", fast_url=fast_url, slow_url=slow_url, dead_url=f"http://{HOST}:{dead_port}")
        result = {"database": label, "broker": "redis" if redis_url else "filesystem"}
        result["drain_concurrency"] = setup["drain_concurrency"]
        return result | drain_backlog(env, tmp, label, setup, args, ports)


def run(args, tmp):
    report = {
        "run": run_info(args, deliveries=args.deliveries, partners=PARTNERS, slow_seconds=SLOW_SECONDS,
                        concurrency=args.concurrency, timeout=args.timeout),
        "results": [],
    }  # fmt: skip
    dead_port = refused_port()
    for label, database, skipped in each_database(args, tmp):
        if database is None:
            report["results"].append({"database": label, "skipped": skipped})
            continue
        # Fresh sinks per database: their counts are per partner slug, which every database reuses.
        fast_sink = sink(tmp / f"sink-fast-{label}.log")
        slow_sink = sink(tmp / f"sink-slow-{label}.log", SLOW_SECONDS * 1e3)
        with fast_sink as fast, slow_sink as slow:
            report["results"].append(bench_database(label, database, args, tmp, (fast, slow), dead_port))
    report["markdown"] = markdown(report)
    return report


def verdicts(result):
    """(healthy all succeeded exactly once, slow within its limit, dead breaker opened)."""
    return (
        result["healthy_done"] and result["healthy_sent_once"],
        result["slow"]["within_limit"],
        result["dead"]["breaker"] in ("open", "half_open"),
    )


def print_report(report):
    run = report["run"]
    print(f"{run['date']}  {run['cpus']} CPUs  {run['deliveries']:,} deliveries to {PARTNERS} partners")
    rows = []
    for result in report["results"]:
        if "skipped" in result:
            print(f"{result['database']}: skipped ({result['skipped']})")
            continue
        slow, dead = result["slow"], result["dead"]
        rows.append({
            "database": f"{result['database']}, {result['broker']}",
            "seeded s": result["seeded"]["seconds"],
            "healthy done s": result["healthy_seconds"] or "not done",
            "healthy per s": result["healthy_per_s"] or "-",
            "sent once": "ok" if result["healthy_sent_once"] else "NO",
            "slow most / limit": f"{slow['most_in_flight']} / {slow['limit']}",
            "slow succeeded": slow["succeeded"],
            "dead breaker": dead["breaker"],
            "dead requests": dead["requests"],
        })  # fmt: skip
        for line, n in result["worker_log"]:
            print(f"worker log {result['database']}: {n} x {line}")
    print_table(rows, [(name, name) for name in rows[0]] if rows else [])


def markdown(report):
    run = report["run"]
    lines = [
        "## Backlog",
        "",
        f"{run['deliveries']:,} deliveries due at once ({run['deliveries'] // PARTNERS:,} conversions, each with one "
        f"delivery to each of {PARTNERS} partners), drained by one worker (threads x{run['concurrency']}, with beat, "
        f"the partners' default limits). {PARTNERS - 2} partners answer at once, one after {SLOW_SECONDS:g} s, one "
        "refuses connections. The slow partner's requests in flight are counted at its sink; the dead one's requests "
        "are its attempt rows (a refused connection reaches no sink).",
        "",
        "| database, broker | seeded in s | healthy: all succeeded after s | per s | exactly once | slow: most in "
        "flight / limit | slow: succeeded by then | dead: breaker | dead: requests |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in report["results"]:
        if "skipped" in result:
            lines.append(f"| {result['database']} | skipped: {result['skipped']} |||||||")
            continue
        slow, dead = result["slow"], result["dead"]
        done = result["healthy_seconds"] if result["healthy_done"] else f"not within {run['timeout']:g}"
        lines.append(
            f"| {result['database']}, {result['broker']} | {result['seeded']['seconds']} | {done} | "
            f"{result['healthy_per_s'] or '-'} | {'ok' if result['healthy_sent_once'] else 'NO'} | "
            f"{slow['most_in_flight']} / {slow['limit']} | {slow['succeeded']} | {dead['breaker']} after "
            f"{dead['breaker_failures']} failures in a row | {dead['requests']} |"
        )
    return "\n".join(lines) + "\n"


def failed(report):
    return any(not all(verdicts(result)) for result in report["results"] if "skipped" not in result)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_django"]:
        return django_child(argv[1], json.loads(argv[2]))
    args = parse_args(argv)
    return main_loop(args, run, print_report, failed, prefix="postbacks-bench-backlog-")


if __name__ == "__main__":
    sys.exit(main())
