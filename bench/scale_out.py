"""Scale-out benchmark: two nodes (web + worker each, beat on one) sharing PostgreSQL and Redis.

What users who outgrow one machine would run.

Each node is its own set of processes with its own environment and VAR_DIR: gunicorn and a Celery worker as the
Procfile runs them; node A also runs beat. A local sink counts requests by webhook-id. Phase 1 sends postbacks
split across both web nodes and checks that every conversion was delivered exactly once and that the sweep was
scheduled once, not once per node. Phase 2 drains the same backlog with one worker, then with two. Run with
`.venv/bin/python bench/scale_out.py` (or `make bench`); `--quick` for a smoke run. See bench/README.md.
"""

import argparse
import contextlib
import json
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from common import (
    BIN,
    HOST,
    add_common_arguments,
    check_databases,
    django_env,
    gunicorn,
    log_errors,
    main_loop,
    manage,
    postgres_database,
    postgres_reachable,
    progress,
    redis_database,
    run_info,
    start,
    stop,
    wait_for,
)
from sink import sink, sink_stats

STALL_TIMEOUT = 60  # seconds without one more final delivery: the run is stuck, not slow
SWEEP_SENT = re.compile(r"Sending due task sweep-deliveries \(partners\.tasks\.sweep\)")
SWEEP_RAN = re.compile(r"Task partners\.tasks\.sweep\[[0-9a-f-]+\] succeeded")
FINAL = ("succeeded", "failed", "cancelled", "skipped")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~1 minute smoke run with small counts")
    parser.add_argument("--postbacks", type=int, help="postbacks of the exactly-once phase (default 2000, quick 200)")
    parser.add_argument("--backlog", type=int, help="deliveries drained by 1, then 2 workers (default 3000, quick 300)")
    parser.add_argument("--sweep-every", type=float, default=2.0, help="the nodes' DELIVERY_SWEEP_EVERY (default 2)")
    parser.add_argument("--concurrency", type=int, default=8, help="worker threads per node (default 8)")
    parser.add_argument("--senders", type=int, default=16, help="parallel postback senders (default 16)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    check_databases(parser, args)
    args.postbacks = args.postbacks or (200 if args.quick else 2000)
    args.backlog = args.backlog or (300 if args.quick else 3000)
    return args


# --- Nodes -------------------------------------------------------------------------------------------


@dataclass
class Node:
    """One machine's worth of the hub: its own environment and VAR_DIR, its processes' logs under it."""

    name: str
    env: dict
    var: Path

    def log(self, what):
        return self.var / f"{what}.log"

    def worker(self, args, run):
        """The Procfile's worker, named after the node as a second machine's hostname would make it."""
        command = [str(BIN / "celery"), "-A", "postbacks_project", "worker", "--loglevel", "INFO", "--pool", "threads"]
        command += ["--concurrency", str(args.concurrency), "--hostname", f"node-{self.name}@%h"]
        log_path = self.log(f"worker-{run}")
        process = start(command, self.env, log_path)
        wait_for(lambda: " ready." in log_path.read_text(errors="replace"), "worker start", 60, process, log_path)
        return process

    def beat(self):
        command = [str(BIN / "celery"), "-A", "postbacks_project", "beat", "--loglevel", "INFO"]
        command += ["--schedule", str(self.var / "celerybeat-schedule")]
        return start(command, self.env, self.log("beat"))


def make_nodes(database_url, redis_url, tmp, args):
    nodes = []
    for name in ("a", "b"):
        var = tmp / f"node-{name}"
        var.mkdir()
        env = django_env(
            database_url,
            var,
            CELERY_BROKER_URL=redis_url,
            CACHE_URL=redis_url,  # shared rate-limit counters, as several web processes need
            BENCHMARK_ENDPOINTS="true",  # gunicorn() waits for /bench/bare/
            RECEIVER_RATE_LIMIT="",  # off: every postback comes from 127.0.0.1
            OUTBOUND_ALLOW_LOOPBACK="true",  # the sink is on 127.0.0.1
            DELIVERY_SWEEP_EVERY=str(args.sweep_every),
        )
        nodes.append(Node(name, env, var))
    return nodes


def stop_all(processes):
    for process in processes:
        stop(process, timeout=60)  # warm shutdown: tasks in flight finish


# --- Postbacks in, deliveries out --------------------------------------------------------------------


def send_postbacks(ports, key, tag, count, senders, tries=3):
    """`count` postbacks with click ids "<tag>-<n>", alternating between the web nodes; answers checked.

    Like a network, a sender retries a postback that got no answer or a 5xx (up to `tries` in all); a
    retry answered "duplicate" counts as accepted, since the first try was stored. Retries are reported.
    """
    import requests

    local = threading.local()  # a Session is not safe to share between threads

    def one(n):
        if not hasattr(local, "session"):
            local.session = requests.Session()
        session = local.session
        port = ports[n % len(ports)]
        url = f"http://{HOST}:{port}/postback/{key}/?click_id={tag}-{n}&payout=1.00&status=approved&transaction_id=t{n}"
        failures = []
        for attempt in range(tries):
            try:
                answer = session.get(url, timeout=30)
                body = answer.json()
            except (requests.RequestException, ValueError) as exc:
                failures.append(f"{type(exc).__name__}: {str(exc)[:200]}")
                continue
            if answer.status_code >= 500:
                failures.append(f"{answer.status_code} {answer.text[:200]}")
                continue
            good = answer.status_code == 200 and body.get("success") and (attempt > 0 or not body.get("duplicate"))
            return port, good, "" if good else f"{answer.status_code} {answer.text[:200]}", failures
        return port, False, failures[-1], failures

    with ThreadPoolExecutor(senders) as pool:
        results = list(pool.map(one, range(count)))
    return {
        "sent": count,
        "accepted": sum(good for _, good, _, _ in results),
        "per_node": [sum(port == p for port, _, _, _ in results) for p in ports],
        # The check counts only accepted ones, so the report must say why one was not, and what was retried.
        "not_accepted": sorted({why for _, good, why, _ in results if not good})[:10],
        "retried": sum(bool(failures) for *_, failures in results),
        "retry_reasons": sorted({why for *_, failures in results for why in failures})[:10],
    }


class Deliveries:
    """Counts a batch's deliveries with plain SQL from this process (no Django here)."""

    SQL = """
        SELECT d.state, count(*), min(d.finished_at), max(d.finished_at), sum(d.attempts)
        FROM partners_delivery d JOIN receiver_conversionevent e ON e.id = d.event_id
        JOIN receiver_conversion c ON c.id = e.conversion_id
        WHERE c.click_id LIKE %s GROUP BY d.state
    """

    def __init__(self, url):
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)

    def states(self, tag):
        rows = self.conn.execute(self.SQL, (f"{tag}-%",)).fetchall()
        return {state: {"count": n, "first": first, "last": last, "attempts": attempts or 0}
                for state, n, first, last, attempts in rows}  # fmt: skip

    def attempt_rows(self, tag):
        return self.conn.execute(
            "SELECT count(*) FROM partners_deliveryattempt a JOIN partners_delivery d ON d.id = a.delivery_id "
            "JOIN receiver_conversionevent e ON e.id = d.event_id JOIN receiver_conversion c ON c.id = e.conversion_id "
            "WHERE c.click_id LIKE %s",
            (f"{tag}-%",),
        ).fetchone()[0]

    def wait_final(self, tag, count, processes):
        """Poll until `count` deliveries of the batch are all final; RuntimeError if a process exits or it stalls."""
        done, last_change = -1, time.monotonic()
        while True:
            states = self.states(tag)
            final = sum(states.get(state, {}).get("count", 0) for state in FINAL)
            total = sum(state["count"] for state in states.values())
            if total >= count and final == total:
                return states
            if final != done:
                done, last_change = final, time.monotonic()
            if time.monotonic() - last_change > STALL_TIMEOUT or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"{tag}: {final}/{count} deliveries final, then stuck or a process exited")
            time.sleep(0.1)


def check_batch(deliveries, sink_port, tag, count):
    """Exactly once: every conversion's delivery succeeded once, one attempt row, one request at the sink."""
    states = deliveries.states(tag)
    succeeded = states.get("succeeded", {}).get("count", 0)
    sink = sink_stats(sink_port, tag)
    row = {
        "conversions": count,
        "succeeded": succeeded,
        "other_states": {state: v["count"] for state, v in states.items() if state != "succeeded"},
        "attempt_rows": deliveries.attempt_rows(tag),
        "sink_requests": sink["requests"],
        "unique_webhook_ids": sink["webhook_ids"],
        "duplicates": sink["requests"] - sink["webhook_ids"],
    }
    row["exactly_once"] = count == succeeded == row["attempt_rows"] == sink["requests"] == sink["webhook_ids"]
    if succeeded > 1:
        span = (states["succeeded"]["last"] - states["succeeded"]["first"]).total_seconds()
        row["per_s"] = round((succeeded - 1) / span, 1) if span else None  # n successes, n-1 gaps
    return row


# --- The phases --------------------------------------------------------------------------------------


def sweeps(beat_log, worker_logs):
    """(sent by beat, run by any worker) of partners.tasks.sweep, from the logs."""
    sent = len(SWEEP_SENT.findall(beat_log.read_text(errors="replace")))
    ran = sum(len(SWEEP_RAN.findall(path.read_text(errors="replace"))) for path in worker_logs)
    return sent, ran


def exactly_once_phase(nodes, ports, key, deliveries, sink_port, args):
    """Both nodes complete (web, worker; beat on A only): postbacks through both webs, every delivery once."""
    progress(f"phase 1: two nodes, {args.postbacks} postbacks split across both web nodes")
    workers = [node.worker(args, "phase1") for node in nodes]
    beat = nodes[0].beat()
    started = time.monotonic()
    try:
        sent = send_postbacks(ports, key, "once", args.postbacks, args.senders)
        deliveries.wait_final("once", sent["accepted"], [*workers, beat])
        # Two sweep periods more, so that the count of sweeps is not decided by one tick.
        time.sleep(2 * args.sweep_every)
    finally:
        stop(beat)
    elapsed = time.monotonic() - started
    worker_logs = [node.log("worker-phase1") for node in nodes]
    with contextlib.suppress(RuntimeError):  # the last sweep sent may still be on its way to a worker
        wait_for(lambda: len(set(sweeps(nodes[0].log("beat"), worker_logs))) == 1, "last sweep", 10)
    stop_all(workers)
    sent_sweeps, ran_sweeps = sweeps(nodes[0].log("beat"), worker_logs)
    most = int(elapsed / args.sweep_every) + 1
    return {
        "postbacks": sent,
        "check": check_batch(deliveries, sink_port, "once", sent["accepted"]),
        "beat": {
            "seconds": round(elapsed, 1),
            "every_s": args.sweep_every,
            "sent": sent_sweeps,
            "ran": ran_sweeps,
            "at_most": most,
            "once": 0 < ran_sweeps == sent_sweeps <= most,
        },
        "worker_log": [{"count": n, "line": line} for path in worker_logs for line, n in log_errors(path)],
    }


def drain_phase(nodes, ports, key, deliveries, sink_port, args, run, tag):
    """A backlog queued while no worker runs, then drained by the first `run` nodes' workers."""
    progress(f"phase 2: {args.backlog} deliveries queued, drained by {run} worker(s)")
    sent = send_postbacks(ports, key, tag, args.backlog, args.senders)
    started = time.monotonic()
    workers = [node.worker(args, tag) for node in nodes[:run]]
    try:
        deliveries.wait_final(tag, sent["accepted"], workers)
        wall = time.monotonic() - started
    finally:
        stop_all(workers)
    row = {"workers": run, "wall_s": round(wall, 1)} | check_batch(deliveries, sink_port, tag, sent["accepted"])
    row["postbacks"] = sent
    return row


def bench(args, tmp, database_url, redis_url):
    nodes = make_nodes(database_url, redis_url, tmp, args)
    manage(nodes[0].env, "migrate", "--noinput", "--verbosity", "0")
    key = json.loads(manage(nodes[0].env, "create_network", "bench scale-out", "--json"))["key"]
    deliveries = Deliveries(database_url)
    with sink(tmp / "sink.log") as sink_port, contextlib.ExitStack() as stack:
        url = f"http://{HOST}:{sink_port}/postback?click_id={{click_id}}&tx={{transaction_id}}&payout={{payout}}"
        manage(nodes[0].env, "create_partner", "bench sink", "--url", url, "--share-percent", "75", "--generate-secret")
        progress("starting two web nodes")
        ports = [stack.enter_context(gunicorn(node.env, node.log("web"), 1, 8)) for node in nodes]
        phase1 = exactly_once_phase(nodes, ports, key, deliveries, sink_port, args)
        drains = [drain_phase(nodes, ports, key, deliveries, sink_port, args, n, f"drain{n}") for n in (1, 2)]
    deliveries.conn.close()
    one, two = (drain.get("per_s") for drain in drains)
    return {"phase1": phase1, "drains": drains, "two_per_one": round(two / one, 2) if one and two else None}


def run(args, tmp):
    report = {"run": run_info(args, postbacks=args.postbacks, backlog=args.backlog, concurrency=args.concurrency)}
    why = postgres_reachable(args.postgres_url) if "postgres" in args.databases else "not among --databases"
    if why:
        report["skipped"] = f"PostgreSQL not reachable: {why}"
    else:
        with redis_database(args.redis_url) as (redis_url, why):
            if why:
                report["skipped"] = f"Redis not usable: {why}"
            else:
                with postgres_database(args.postgres_url) as database_url:
                    report |= bench(args, tmp, database_url, redis_url)
    if "skipped" in report:
        progress(f"skipped: {report['skipped']} (scale-out needs both PostgreSQL and Redis)")
    report["markdown"] = markdown(report)
    return report


# --- Output ------------------------------------------------------------------------------------------


def markdown(report):
    lines = ["## Scale-out", ""]
    if "skipped" in report:
        return "\n".join([*lines, f"Skipped: {report['skipped']}.", ""])
    p1, beat = report["phase1"], report["phase1"]["beat"]
    c = p1["check"]
    lines += [
        "Two nodes (own processes, environment and VAR_DIR) on one PostgreSQL and one Redis: gunicorn 1x8 and a "
        f"Celery worker threads x{report['run']['concurrency']} each, beat on node A only.",
        "",
        f"- Exactly once: {p1['postbacks']['accepted']} of {p1['postbacks']['sent']} postbacks accepted (per web node: "
        f"{p1['postbacks']['per_node']}); deliveries succeeded {c['succeeded']}, attempt rows {c['attempt_rows']}, "
        f"sink requests {c['sink_requests']}, unique webhook-ids {c['unique_webhook_ids']}, raw duplicates "
        f"{c['duplicates']}: **{'ok' if c['exactly_once'] else 'NOT exactly once'}**.",
        *[f"- Not accepted after retries: {why}" for why in p1["postbacks"].get("not_accepted", [])],
        *[
            f"- Retried, as a network would ({p1['postbacks']['retried']} postbacks in all): {why}"
            for why in p1["postbacks"].get("retry_reasons", [])
        ],
        f"- Beat once: sweep sent {beat['sent']} times by node A's beat and run {beat['ran']} times by the workers in "
        f"{beat['seconds']} s every {beat['every_s']:g} s (at most {beat['at_most']}): "
        f"**{'once' if beat['once'] else 'NOT once'}**.",
        "",
        "| backlog drained by | deliveries | per s | wall s (from worker start) | exactly once |",
        "|---|---|---|---|---|",
    ]
    for drain in report["drains"]:
        once = "ok" if drain["exactly_once"] else "NO"
        lines.append(f"| {drain['workers']} worker(s) | {drain['succeeded']} | {drain.get('per_s')} | "
                     f"{drain['wall_s']} | {once} |")  # fmt: skip
    lines += ["", f"- two workers / one: **{report['two_per_one']}**", ""]
    return "\n".join(lines)


def print_report(report):
    print(report["markdown"])
    for item in report.get("phase1", {}).get("worker_log", []):
        print(f"worker log  {item['count']} x {item['line']}")


def failed(report):
    if "skipped" in report:
        return False
    checks = [report["phase1"]["check"], *report["drains"]]
    return not report["phase1"]["beat"]["once"] or any(not check["exactly_once"] for check in checks)


def main(argv=None):
    args = parse_args(argv)
    if not (BIN / "celery").exists():
        sys.exit(f"no celery next to {sys.executable}; run `make setup`, then `.venv/bin/python bench/scale_out.py`")
    return main_loop(args, run, print_report, failed, prefix="postbacks-bench-scale-out-")


if __name__ == "__main__":
    sys.exit(main())
