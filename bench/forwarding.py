"""Forwarding throughput benchmark: one Celery worker delivering to a local sink vs a plain requests.Session loop.

Run with `.venv/bin/python bench/forwarding.py` (or `make bench`); `--quick` for a smoke run, `--json` for
machine-readable output. See bench/README.md for what the figures mean.
"""

import argparse
import contextlib
import json
import os
import re
import sqlite3
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from common import (
    BIN,
    HOST,
    ROOT,
    add_common_arguments,
    busy_share,
    check_databases,
    django_env,
    each_database,
    log_errors,
    machine_ticks,
    main_loop,
    manage,
    print_table,
    progress,
    redis_database,
    run_info,
    run_python,
    start,
    stop,
    wait_for,
)
from forwarding_profile import profile_summary, profile_tasks
from sink import sink, sink_stats

TASK = "partners.tasks.send_delivery"
DEFAULT_POOLS = "prefork:1,threads:8,solo:1,solo:1:reuse,prefork:1:poll=0.01:reuse:prefetch=4"
DEFAULT_MEMORY_POOL = "threads:8:poll=0.01:reuse"
# What a partner's postback URL typically carries; the Session loop sends the same shape.
URL_TEMPLATE = (
    "/postback?click_id={click_id}&payout={payout}&status={status}&tx={transaction_id}&event={event}&ts={timestamp}"
)
STALL_TIMEOUT = 60  # seconds without one more success: the run is stuck, not slow
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Pool:
    """A worker to measure: Celery pool and concurrency, and settings overridden for the benchmark only.

    poll: FILESYSTEM_BROKER_POLL, seconds between polls of the filesystem broker (0.1 as shipped).
    reuse: keep database connections across tasks (CELERY_DB_REUSE_MAX, with close_old_connections()
    around each task instead). prefetch: --prefetch-multiplier (1 as shipped).
    """

    pool: str
    concurrency: int
    poll: float | None = None
    reuse: bool = False
    prefetch: int | None = None

    def __str__(self):
        changes = [f"poll {self.poll:g} s"] if self.poll is not None else []
        changes += ["reuse db"] if self.reuse else []
        changes += [f"prefetch {self.prefetch}"] if self.prefetch else []
        return f"{self.pool} x{self.concurrency}" + (f" ({', '.join(changes)})" if changes else "")

    @property
    def slug(self):
        return re.sub(r"[^a-z0-9.]+", "-", str(self)).strip("-")

    @property
    def env(self):
        return {"FILESYSTEM_BROKER_POLL": str(self.poll)} if self.poll is not None else {}


# Sizes as (quick, full): a full run takes about 13 minutes, --quick about 2 (bench/README.md).
SIZES = {
    "deliveries": ((300, 2000), "most measured deliveries per worker"),
    "seconds": ((4.0, 8.0), "most measured seconds per worker"),
    "warmup": ((50, 200), "unmeasured deliveries per worker first"),
    "warmup_seconds": ((2.0, 4.0), "most seconds of that warm-up"),
    "memory_checkpoint": ((1000, 1000), "RSS after this many deliveries is compared with RSS at the end"),
    "memory_deliveries": ((3000, 50000), "deliveries of the memory run"),
    "memory_seconds": ((60.0, 900.0), "most seconds of the memory run"),
    "baseline_requests": ((1000, 5000), "requests of the Session loop"),
    "profile_deliveries": ((300, 1000), "deliveries of the profiled worker, after the warm-up (0: no profile)"),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~2 minute smoke run with small counts")
    parser.add_argument(
        "--pools",
        default=DEFAULT_POOLS,
        help=f"workers, comma-separated: pool:concurrency[:poll=S][:reuse][:prefetch=N] (default {DEFAULT_POOLS})",
    )
    parser.add_argument("--memory-pool", default=DEFAULT_MEMORY_POOL, help=f"(default {DEFAULT_MEMORY_POOL})")
    parser.add_argument("--memory-all", action="store_true", help="the memory run on every database, not the last")
    parser.add_argument("--profile-pool", default="solo:1", help="the profiled worker (default solo:1)")
    for name, ((quick, full), text) in SIZES.items():
        kind = type(full)
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, help=f"{text} (default {full}, quick {quick})")
    parser.add_argument(
        "--window", type=int, default=500, help="most tasks queued ahead of the worker (default 500; 0: all at once)"
    )
    parser.add_argument("--latency-ms", type=float, default=0, help="the sink answers after this long (default 0)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    check_databases(parser, args)
    for name, ((quick, full), _) in SIZES.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    args.pools = [parse_pool(parser, item) for item in args.pools.split(",") if item.strip()]
    args.memory_pool = parse_pool(parser, args.memory_pool) if args.memory_pool else None
    args.profile_pool = parse_pool(parser, args.profile_pool)
    return args


def parse_pool(parser, item):
    """pool:concurrency, then any of :poll=SECONDS :reuse :prefetch=N, e.g. prefork:1:poll=0.01:reuse."""
    pool, concurrency, *options = item.strip().split(":")
    try:
        changes = {}
        for option in options:
            name, _, value = option.partition("=")
            changes[name] = {"poll": float, "prefetch": int, "reuse": lambda v: True}[name](value)
        return Pool(pool, int(concurrency), **changes)
    except (ValueError, KeyError):
        parser.error(f"bad pool {item!r}; use e.g. prefork:1, threads:8 or prefork:1:poll=0.01:reuse")


# --- The Session loop: the baseline ------------------------------------------------------------------


def session_loop(port, tag, count, warmup=100):
    """GETs back to back on one requests.Session, same URL shape as the partner's: the floor of one sender."""
    import requests

    session = requests.Session()
    values = {"payout": "0.75", "status": "approved", "event": "conversion", "timestamp": str(int(time.time()))}

    def url(batch, n):
        path = URL_TEMPLATE.format(click_id=f"{batch}-{n}", transaction_id=f"tx-{batch}-{n}", **values)
        return f"http://{HOST}:{port}{path}"

    for n in range(warmup):
        session.get(url(tag + "warm", n)).content  # noqa: B018 -- read the body, as the worker does
    bad = 0
    started, machine = time.monotonic(), machine_ticks()
    for n in range(count):
        response = session.get(url(tag, n))
        bad += response.status_code != 200 or response.content != b"ok"
    seconds = time.monotonic() - started
    sink = sink_stats(port, tag)
    return {
        "target": "requests.Session loop",
        "deliveries": count,
        "per_s": round(count / seconds, 1),
        "machine_cpu_pct": pct(busy_share(machine, machine_ticks())),
        "errors": bad,
        "sink": sink,
        "exactly_once": not bad and sink["requests"] == sink["unique"] == count,
    }


# --- The project side: child processes with Django set up --------------------------------------------


def django_child(command, payload):
    """Runs in a child process with the benchmark's environment: set up, seed or run attempt() in a loop."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    result = {"setup": child_setup, "seed": child_seed, "attempt_loop": child_attempt_loop}[command](**payload)
    print(json.dumps(result))


def child_setup(sink_url):
    """One network, offer and partner pointing at the sink; the broker settings the worker will use."""
    from decimal import Decimal

    from django.conf import settings

    from partners.models import Partner
    from receiver.models import Network, Offer

    network = Network.objects.create(name="bench network")
    Offer.objects.create(network=network, name="bench offer", url="https://offer.example/?c={click_id}")
    partner = Partner.objects.create(
        name="bench sink", slug="bench-sink", postback_url=sink_url + URL_TEMPLATE, share_value=Decimal("75")
    )
    return {
        "partner": partner.pk,
        "broker_url": settings.CELERY_BROKER_URL,
        "transport_options": settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    }


def child_seed(partner, count, tag):
    """`count` conversions, each with its created event and a pending delivery to the partner, in bulk."""
    from decimal import Decimal

    from partners.models import Delivery
    from receiver.models import Conversion, ConversionEvent, Network, Offer

    network = Network.objects.get(name="bench network")
    offer = Offer.objects.get(network=network)
    conversions = Conversion.objects.bulk_create(
        Conversion(
            network=network,
            offer=offer,
            click_id=f"{tag}-{n}",
            dedupe_id=f"tx-{tag}-{n}",
            transaction_id=f"tx-{tag}-{n}",
            user_id=f"user-{n}",
            status="approved",
            payout=Decimal("1.00"),
        )
        for n in range(count)
    )
    events = ConversionEvent.objects.bulk_create(
        ConversionEvent(conversion=c, kind="created", to_status="approved", payout=c.payout) for c in conversions
    )
    ids = [d.pk for d in Delivery.objects.bulk_create(Delivery(event=e, partner_id=partner) for e in events)]
    # The benchmark counts a batch by id range: one seeder at a time gets consecutive ids.
    if ids != list(range(ids[0], ids[0] + count)):
        raise RuntimeError("delivery ids are not consecutive")
    return {"first": ids[0], "last": ids[-1], "tag": tag, "count": count}


def child_attempt_loop(partner, count, warmup, tag):
    """partners.delivery.attempt() called in a loop, no Celery: what the application path alone costs."""
    from partners.delivery import attempt

    warm, batch = child_seed(partner, warmup, tag + "w"), child_seed(partner, count, tag)
    for pk in range(warm["first"], warm["last"] + 1):
        attempt(pk)
    started = time.monotonic()
    for pk in range(batch["first"], batch["last"] + 1):
        attempt(pk)
    return {**batch, "seconds": time.monotonic() - started}


def in_django(env, command, **payload):
    output = run_python(env, str(Path(__file__).relative_to(ROOT)), "_django", command, json.dumps(payload))
    return json.loads(output.strip().splitlines()[-1])


def worker_child(overrides, celery_args):
    """`celery worker` with settings changed first: what a settings change would do, the code untouched."""
    sys.path.insert(0, str(ROOT))
    from celery import signals
    from django.conf import settings

    if overrides.get("reuse"):
        from django.db import close_old_connections

        # Celery's Django fixup closes every connection before and after each task unless this is set;
        # close_old_connections() keeps them for CONN_MAX_AGE and still drops broken ones.
        settings.CELERY_DB_REUSE_MAX = 10**9
        signals.task_prerun.connect(lambda **kwargs: close_old_connections(), weak=False)
        signals.task_postrun.connect(lambda **kwargs: close_old_connections(), weak=False)
    if overrides.get("profile"):
        profile_tasks(signals, overrides["profile"], overrides["profile_after"])
    from celery.bin.celery import main as celery_main

    sys.argv = ["celery", *celery_args]
    return celery_main()


# --- Watching the database from here (no Django in this process) --------------------------------------


@dataclass(frozen=True)
class Batch:
    """Deliveries seeded together: consecutive ids, click ids "<tag>-<n>"."""

    first: int
    last: int
    tag: str
    count: int

    @property
    def ids(self):
        return range(self.first, self.last + 1)


class Probe:
    """Counts deliveries with plain SQL, so that this process stays out of the worker's way."""

    def __init__(self, database_url):
        parts = urlsplit(database_url)
        if parts.scheme == "sqlite":
            # Read-only and autocommit: each poll sees the latest commit and never holds the write lock.
            path = "/" + parts.path.lstrip("/")  # sqlite:////tmp/x has the path //tmp/x
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=20)
            self.mark = "?"
        else:
            import psycopg

            self.conn = psycopg.connect(database_url, autocommit=True)
            self.mark = "%s"

    def rows(self, sql, batch):
        return self.conn.execute(sql.replace("%s", self.mark), (batch.first, batch.last)).fetchall()

    def succeeded(self, batch):
        sql = "SELECT count(*) FROM partners_delivery WHERE id BETWEEN %s AND %s AND state = 'succeeded'"
        return self.rows(sql, batch)[0][0]

    def summary(self, batch):
        """States, attempts, and the first and last success (the worker's own clock) of a batch."""
        where = "FROM partners_delivery WHERE id BETWEEN %s AND %s"
        states = dict(self.rows(f"SELECT state, count(*) {where} GROUP BY state", batch))
        attempts, first_at, last_at = self.rows(
            f"SELECT sum(attempts), min(finished_at), max(finished_at) {where} AND state = 'succeeded'", batch
        )[0]
        rows = self.rows("SELECT count(*) FROM partners_deliveryattempt WHERE delivery_id BETWEEN %s AND %s", batch)
        done = states.get("succeeded", 0)
        span = (as_datetime(last_at) - as_datetime(first_at)).total_seconds() if done > 1 else 0.0
        return {"states": states, "attempts": attempts or 0, "attempt_rows": rows[0][0], "span_s": round(span, 3)}

    def close(self):
        self.conn.close()


def as_datetime(value):
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


# --- The worker: start, feed, watch, measure ---------------------------------------------------------


def process_tree(pid):
    """`pid` and all its descendants, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(child for child, parent in parents.items() if parent == current)
    return tree


def tree_usage(pid):
    """(RSS in MB, CPU seconds) of a process and its children: the worker with its pool processes."""
    rss = cpu = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            rss += int(Path(f"/proc/{member}/statm").read_text().split()[1]) * PAGE
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
    return rss / 2**20, cpu


def worker_command(spec, name, profile):
    """The Procfile's worker with the pool under test; mingle and gossip off, as other workers are not ours."""
    command = [str(BIN / "python")]
    if spec.reuse or profile:
        command += [__file__, "_worker", json.dumps({"reuse": spec.reuse, **profile})]
    else:
        command += ["-m", "celery"]  # exactly as shipped: what `.venv/bin/celery` runs
    command += ["-A", "postbacks_project", "worker", "--loglevel", "INFO", "--pool", spec.pool]
    command += ["--concurrency", str(spec.concurrency), "--hostname", f"{name}@%h"]
    command += ["--prefetch-multiplier", str(spec.prefetch)] if spec.prefetch else []
    return [*command, "--without-mingle", "--without-gossip"]


@contextlib.contextmanager
def worker(ctx, spec, **profile):
    name = f"bench-{os.getpid()}-{spec.slug}"
    log_path = ctx.tmp / f"worker-{ctx.label}-{spec.slug}{'-profile' if profile else ''}.log"
    process = start(worker_command(spec, name, profile), ctx.env | spec.env, log_path)
    try:
        wait_for(lambda: " ready." in log_path.read_text(errors="replace"), "worker start", 60, process, log_path)
        yield process, log_path
    finally:
        stop(process, timeout=60)  # warm shutdown: tasks in flight finish, a profiled worker writes its profile
        # Tasks it had reserved but not started went back to the queue; they must not reach the next worker.
        ctx.feeder.control.purge()


# Celery's "[2026-11-23 12:00:00,000: WARNING/MainProcess] ..." and a traceback's last line.
WORKER_ERROR = re.compile(r"^(?:WARNING|ERROR|CRITICAL)/|^[\w.]+(?:Error|Exception)\b")
# Stripped: the timestamp, and task ids, so that the same error in every task is counted as one line.
WORKER_PREFIX = re.compile(r"^\[[^]]*?: |(?<=\[)[0-9a-f-]{36}(?=\])")


@dataclass
class Context:
    """What every phase on one database needs."""

    label: str
    env: dict
    tmp: Path
    probe: Probe
    feeder: object
    partner: int
    port: int
    window: int
    batches: int = 0

    def tag(self):
        self.batches += 1
        return f"{self.label}{self.batches}"

    def seed(self, count):
        return Batch(**in_django(self.env, "seed", partner=self.partner, count=count, tag=self.tag()))


def feeder_app(broker_url, options):
    """A bare Celery app on the worker's broker: tasks are sent by name, so this process needs no Django."""
    from celery import Celery

    app = Celery("bench-feeder", broker=broker_url, set_as_current=False)
    app.conf.broker_transport_options = options
    app.conf.broker_connection_timeout = 3
    return app


def send(app, ids):
    with app.producer_or_acquire() as producer:
        for pk in ids:
            app.send_task(TASK, args=(pk,), producer=producer)


def feed(ctx, batch, process, log_path, seconds, on_progress=None):
    """Queue the batch at most `window` ahead of the worker until it is done or `seconds` have passed.

    At the deadline, what is still queued is purged: only what the worker took counts. True if all succeeded.
    """
    ids, sent, done = batch.ids, 0, 0
    window = ctx.window or batch.count
    deadline = last_change = time.monotonic()
    deadline += seconds
    while done < batch.count:
        if sent < batch.count and sent - done < window:
            chunk = ids[sent : min(batch.count, done + window, sent + 100)]
            send(ctx.feeder, chunk)
            sent += len(chunk)
            continue
        time.sleep(0.05)
        now = time.monotonic()
        if (count := ctx.probe.succeeded(batch)) != done:
            done, last_change = count, now
            if on_progress:
                on_progress(done)
        if now > deadline:
            ctx.feeder.control.purge()
            return False
        if process.poll() is not None or now - last_change > STALL_TIMEOUT:
            state = "exited" if process.poll() is not None else f"stalled for {STALL_TIMEOUT} s"
            raise RuntimeError(f"worker {state} at {done}/{batch.count} deliveries; log: {log_path}")
    return True


# The memory run passes when RSS at its end is at most this much above RSS at the checkpoint.
FLAT_PCT = 10


def bench_pool(ctx, spec, count, seconds, warmup, warmup_seconds, checkpoint=None):
    """One fresh worker: warm-up, then up to `count` deliveries in up to `seconds`; rate, CPU, memory, checks.

    With `checkpoint`, RSS is also taken once `checkpoint` deliveries are done, to compare with the end.
    """
    progress(f"{ctx.label}: worker {spec}: up to {count} deliveries in {seconds:g} s")
    warm, batch = ctx.seed(warmup), ctx.seed(count)
    with worker(ctx, spec) as (process, log_path):
        feed(ctx, warm, process, log_path, warmup_seconds)
        rss_start, cpu_start = tree_usage(process.pid)
        samples = [(0, round(rss_start, 1))]

        def sample(done):  # RSS at each tenth of the batch, to see a trend rather than two points
            if checkpoint and done >= checkpoint and not marks:
                marks.append((done, round(tree_usage(process.pid)[0], 1)))
            if done >= len(samples) * max(1, count // 10):
                samples.append((done, round(tree_usage(process.pid)[0], 1)))

        marks = []
        started, machine = time.monotonic(), machine_ticks()
        complete = feed(ctx, batch, process, log_path, seconds, on_progress=sample)
        elapsed, machine_cpu = time.monotonic() - started, busy_share(machine, machine_ticks())
        rss_end, cpu_end = tree_usage(process.pid)
    row = measured_row(ctx, f"worker {spec}", batch)
    if checkpoint:
        done = row["deliveries"]
        growth = round((rss_end / marks[0][1] - 1) * 100, 1) if marks else None
        row["memory"] = {"checkpoints": [*marks, (done, round(rss_end, 1))], "growth_pct": growth}
        row["memory"]["flat"] = growth is not None and growth <= FLAT_PCT and done == count
    row.update(
        complete=complete,
        worker_cpu_pct=pct((cpu_end - cpu_start) / elapsed),
        machine_cpu_pct=pct(machine_cpu),
        rss_start_mb=round(rss_start, 1),
        rss_end_mb=round(rss_end, 1),
        rss_growth_pct=round((rss_end / rss_start - 1) * 100, 1),
        rss_samples=samples,
        worker_log=[{"count": n, "line": line} for line, n in log_errors(log_path, WORKER_ERROR, WORKER_PREFIX)],
    )
    return row


def measured_row(ctx, target, batch):
    """Rate from the first to the last success, and the exactly-once checks at the sink and in the database.

    Exactly once: every success has one attempt row and one request at the sink, no request went out twice,
    and nothing is left half-way (sending) or failed.
    """
    summary = ctx.probe.summary(batch)
    sink = sink_stats(ctx.port, batch.tag)
    done = summary["states"].get("succeeded", 0)
    unsent = summary["states"].get("pending", 0)
    once = done == summary["attempts"] == summary["attempt_rows"] == sink["requests"] == sink["unique"]
    return {
        "target": target,
        "deliveries": done,
        "per_s": round((done - 1) / summary["span_s"], 1) if summary["span_s"] else None,  # n successes, n-1 gaps
        "db": summary,
        "sink": sink,
        "exactly_once": once and done + unsent == batch.count and done > 0,
    }


def bench_attempt_loop(ctx, count, warmup):
    """The application path without Celery, in one process: the most a worker could reach."""
    progress(f"{ctx.label}: attempt() loop without Celery: {count} deliveries")
    loop = in_django(ctx.env, "attempt_loop", partner=ctx.partner, count=count, warmup=warmup, tag=ctx.tag())
    batch = Batch(loop["first"], loop["last"], loop["tag"], loop["count"])
    row = measured_row(ctx, "attempt() loop, no Celery", batch)
    row["per_s"] = round(count / loop["seconds"], 1)  # its own clock: from the first try, not the first success
    return row


# --- Profile: one solo worker under cProfile ---------------------------------------------------------


def bench_profile(ctx, spec, count, warmup):
    """A solo worker (the task runs in the process that takes it from the broker) under cProfile after warm-up."""
    progress(f"{ctx.label}: worker {spec} under cProfile: {warmup} warm-up, then {count} deliveries profiled")
    warm, batch = ctx.seed(warmup), ctx.seed(count)
    profile_path = ctx.tmp / f"worker-{ctx.label}.prof"
    with worker(ctx, spec, profile=str(profile_path), profile_after=warmup) as (process, log_path):
        feed(ctx, warm, process, log_path, STALL_TIMEOUT)
        feed(ctx, batch, process, log_path, STALL_TIMEOUT * 5)
    wait_for(profile_path.exists, "profile written", 30)
    summary = ctx.probe.summary(batch)
    done = summary["states"].get("succeeded", 0)
    return {"worker": str(spec)} | profile_summary(profile_path, done, summary["span_s"] / max(1, done - 1) * 1000)


# --- One database ------------------------------------------------------------------------------------


@contextlib.contextmanager
def redis_broker(args):
    """A Redis database for the broker (see common.redis_database); None without Redis."""
    with redis_database(args.redis_url) as (url, why):
        if why:
            progress(f"redis: not usable ({why}); PostgreSQL gets the filesystem broker too")
        yield url


def bench_database(label, database, args, tmp, port, memory):
    """Fresh database and broker, then every phase in turn against the one sink."""
    broker = redis_broker(args) if label == "postgres" else contextlib.nullcontext(None)
    with database as url, broker as redis_url:
        env = django_env(
            url,
            tmp / f"var-{label}",
            CELERY_BROKER_URL=redis_url or "filesystem://localhost/",
            OUTBOUND_ALLOW_LOOPBACK="true",  # the sink is on 127.0.0.1
        )
        progress(f"{label}: migrating a fresh database")
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        setup = in_django(env, "setup", sink_url=f"http://{HOST}:{port}")
        probe = Probe(url)
        feeder = feeder_app(setup["broker_url"], setup["transport_options"])
        ctx = Context(label, env, tmp, probe, feeder, setup["partner"], port, args.window)
        try:
            result = {"database": label, "broker": "redis" if redis_url else "filesystem"}
            return result | run_phases(ctx, args, memory)
        finally:
            probe.close()


def run_phases(ctx, args, memory):
    progress(f"{ctx.label}: requests.Session loop: {args.baseline_requests} requests")
    rows = [session_loop(ctx.port, ctx.tag(), args.baseline_requests)]
    rows.append(bench_attempt_loop(ctx, args.deliveries, args.warmup))
    for spec in args.pools:
        rows.append(bench_pool(ctx, spec, args.deliveries, args.seconds, args.warmup, args.warmup_seconds))
    result = {"targets": rows}
    if memory:
        sizes = (args.memory_deliveries, args.memory_seconds, args.warmup, args.warmup_seconds)
        row = bench_pool(ctx, args.memory_pool, *sizes, checkpoint=args.memory_checkpoint)
        row["target"] += ", memory run"
        rows.append(row)
    for row in rows:
        row["ratio"] = round(row["per_s"] / rows[0]["per_s"], 3) if row["per_s"] else None
    if args.profile_deliveries:
        result["profile"] = bench_profile(ctx, args.profile_pool, args.profile_deliveries, args.warmup)
    return result


def pct(share):
    return None if share is None else round(share * 100)


# --- Output ------------------------------------------------------------------------------------------

COLUMNS = [
    ("target", "target"),
    ("deliveries", "deliveries"),
    ("per s", "per_s"),
    ("/ Session", "ratio"),
    ("worker cpu %", "worker_cpu_pct"),
    ("machine cpu %", "machine_cpu_pct"),
    ("RSS start MB", "rss_start_mb"),
    ("RSS end MB", "rss_end_mb"),
    ("RSS +%", "rss_growth_pct"),
    ("exactly once", "check"),
]
PROFILE_COLUMNS = [("part", "part"), ("calls", "calls"), ("ms", "ms"), ("% of delivery", "share_pct")]


def print_report(report):
    run = report["run"]
    print(
        f"{run['date']}  {run['cpus']} CPUs  Python {run['python']}  up to {run['deliveries']} deliveries or "
        f"{run['seconds']:g} s per worker after {run['warmup']} warm-up; tasks queued at most {run['window']} ahead"
        + (f"; the sink answers after {run['latency_ms']:g} ms" if run["latency_ms"] else "")
    )
    for result in report["results"]:
        print(f"\n== {result['database']}" + (f", {result['broker']} broker" if "broker" in result else ""))
        if "skipped" in result:
            print(f"skipped: {result['skipped']}")
            continue
        for row in result["targets"]:
            row["check"] = "ok" if row["exactly_once"] else "NO"
        print_table(result["targets"], COLUMNS)
        print_details(result)


def print_details(result):
    for row in result["targets"]:
        if not row["exactly_once"]:
            print(f"check  {row['target']}: database {row.get('db')}, sink {row['sink']}")
        if "memory" in row:
            memory = row["memory"]
            verdict = "flat" if memory["flat"] else f"NOT FLAT (more than {FLAT_PCT} % or not all delivered)"
            points = ", ".join(f"{mb} MB after {n:,}" for n, mb in memory["checkpoints"])
            print(f"memory run RSS: {points}: {memory['growth_pct']} %, {verdict}")
            print(f"RSS MB after n deliveries, {row['target']}: {row['rss_samples']}")
        for item in row.get("worker_log", []):
            print(f"worker log  {row['target']}: {item['count']} x {item['line']}")
    if "profile" in result:
        profile = result["profile"]
        print(f"\nprofile: worker {profile['worker']} under cProfile, {profile['ms_per_delivery']} ms per delivery")
        print_table(profile["parts"], PROFILE_COLUMNS)
        print("own time, ms per delivery:")
        for item in profile["top_own_time"][:12]:
            print(f"  {item['ms']:7.3f}  {item['function']}")


# --- Main --------------------------------------------------------------------------------------------


def run(args, tmp):
    report = {
        "run": run_info(
            args,
            pools=[str(spec) for spec in args.pools],
            deliveries=args.deliveries,
            seconds=args.seconds,
            memory_pool=str(args.memory_pool),
            memory_deliveries=args.memory_deliveries,
            latency_ms=args.latency_ms,
            warmup=args.warmup,
            window=args.window,
        ),
        "results": [],
    }
    databases = list(each_database(args, tmp))
    # 50,000 deliveries take a while: by default once, on the last database (PostgreSQL and Redis, as deployed).
    running = [label for label, database, _ in databases if database]
    memory_on = running if args.memory_all else running[-1:]
    with sink(tmp / "sink.log", args.latency_ms) as port:
        for label, database, skipped in databases:
            if database is None:
                report["results"].append({"database": label, "skipped": skipped})
                continue
            memory = args.memory_pool is not None and label in memory_on
            report["results"].append(bench_database(label, database, args, tmp, port, memory))
    report["markdown"] = markdown(report)
    return report


def markdown(report):
    """The section of bench/results.md: one row per worker and database, then the memory run."""
    run = report["run"]
    lines = [
        "## Forwarding",
        "",
        f"One worker process delivering to a local sink, up to {run['deliveries']:,} deliveries or "
        f"{run['seconds']:g} s per worker after {run['warmup']} warm-up, against a `requests.Session` loop to the "
        "same sink in the same run.",
        "",
        "| database, broker | worker | per s | / Session | worker cpu % | RSS MB start → end | exactly once |",
        "|---|---|---|---|---|---|---|",
    ]
    notes = []
    for result in report["results"]:
        if "skipped" in result:
            notes.append(f"{result['database']}: skipped ({result['skipped']})")
            continue
        where = f"{result['database']}, {result['broker']}"
        for row in result["targets"]:
            rss = f"{row['rss_start_mb']} → {row['rss_end_mb']}" if "rss_start_mb" in row else ""
            lines.append(
                f"| {where} | {row['target']} | {row['per_s']} | {row['ratio']} | "
                f"{'' if row.get('worker_cpu_pct') is None else row['worker_cpu_pct']} | {rss} | "
                f"{'ok' if row['exactly_once'] else 'NO'} |"
            )
            if "memory" in row:
                memory = row["memory"]
                points = ", ".join(f"{mb} MB after {n:,}" for n, mb in memory["checkpoints"])
                verdict = "flat" if memory["flat"] else "**not flat**"
                notes.append(
                    f"memory, {where}, {row['target']}: {points}: {memory['growth_pct']:+} % "
                    f"({verdict}; the bar is {FLAT_PCT} %)"
                )
    return "\n".join(lines + [""] + [f"- {note}" for note in notes]) + "\n"


def failed(report):
    """Something needs a look: a delivery not sent exactly once, a Session loop error, memory not flat."""
    rows = [row for r in report["results"] for row in r.get("targets", [])]
    return any(not row["exactly_once"] or not row.get("memory", {"flat": True})["flat"] for row in rows)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_django"]:
        return django_child(argv[1], json.loads(argv[2]))
    if argv[:1] == ["_worker"]:
        return worker_child(json.loads(argv[1]), argv[2:])
    args = parse_args(argv)
    if not (BIN / "celery").exists():
        sys.exit(f"no celery next to {sys.executable}; run `make setup`, then `.venv/bin/python bench/forwarding.py`")
    return main_loop(args, run, print_report, failed, prefix="postbacks-bench-forwarding-")


if __name__ == "__main__":
    sys.exit(main())
