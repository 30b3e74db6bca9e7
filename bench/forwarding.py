"""Forwarding throughput benchmark: one Celery worker's drainer delivering to a local sink vs requests.Session loops.

Run with `.venv/bin/python bench/forwarding.py` (or `make bench`); `--quick` for a smoke run, `--json` for
machine-readable output. See bench/README.md for what the figures mean.
"""

import argparse
import contextlib
import fcntl
import json
import os
import re
import sqlite3
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
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
    seed_deliveries,
    start,
    stop,
    wait_for,
)
from forwarding_profile import profile_summary
from sink import sink, sink_stats

# The drainer's wake-up: no arguments, it sends whatever is due (partners/tasks.py).
TASK = "partners.tasks.drain"
# threads:8 is the Procfile's worker; each slot can run one drain task (and so one drainer).
DEFAULT_POOLS = "threads:1,threads:4,threads:8,prefork:1"
DEFAULT_MEMORY_POOL = "threads:8"
# Seeded deliveries wait here, not due, until `feed` releases them: a drain only ever sees the batch being measured.
HELD = datetime(2999, 1, 1, tzinfo=UTC)
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
    drain: DELIVERY_DRAIN_CONCURRENCY, requests in flight per drainer (16 as shipped).
    """

    pool: str
    concurrency: int
    poll: float | None = None
    drain: int | None = None

    def __str__(self):
        changes = [f"poll {self.poll:g} s"] if self.poll is not None else []
        changes += [f"drain {self.drain}"] if self.drain else []
        return f"{self.pool} x{self.concurrency}" + (f" ({', '.join(changes)})" if changes else "")

    @property
    def slug(self):
        return re.sub(r"[^a-z0-9.]+", "-", str(self)).strip("-")

    @property
    def env(self):
        env = {"FILESYSTEM_BROKER_POLL": str(self.poll)} if self.poll is not None else {}
        return env | ({"DELIVERY_DRAIN_CONCURRENCY": str(self.drain)} if self.drain else {})


# Sizes as (quick, full): a full run takes about 13 minutes, --quick about 2 (bench/README.md).
SIZES = {
    "deliveries": ((300, 2000), "most measured deliveries per worker"),
    "seconds": ((4.0, 8.0), "most measured seconds per worker"),
    "warmup": ((50, 200), "unmeasured deliveries per worker first"),
    "warmup_seconds": ((2.0, 4.0), "most seconds of that warm-up"),
    "memory_checkpoint": ((1000, 1000), "RSS after this many deliveries is compared with RSS at the end"),
    "memory_deliveries": ((3000, 50000), "deliveries of the memory run"),
    "memory_seconds": ((60.0, 900.0), "most seconds of the memory run"),
    "baseline_requests": ((1000, 5000), "requests of each Session loop (sequential, thread pool)"),
    "profile_deliveries": ((300, 1000), "deliveries of the profiled drain(), after the warm-up (0: no profile)"),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~2 minute smoke run with small counts")
    parser.add_argument(
        "--pools",
        default=DEFAULT_POOLS,
        help=f"workers, comma-separated: pool:concurrency[:poll=S][:drain=N] (default {DEFAULT_POOLS})",
    )
    parser.add_argument("--memory-pool", default=DEFAULT_MEMORY_POOL, help=f"(default {DEFAULT_MEMORY_POOL})")
    parser.add_argument("--memory-all", action="store_true", help="the memory run on every database, not the last")
    for name, ((quick, full), text) in SIZES.items():
        kind = type(full)
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, help=f"{text} (default {full}, quick {quick})")
    parser.add_argument(
        "--window",
        type=int,
        default=0,
        help="deliveries made due per release, the next once half are sent (default 0: the whole batch at once)",
    )
    parser.add_argument(
        "--wakeups", type=int, help="drain tasks sent per release (default: the worker's concurrency, one per slot)"
    )
    parser.add_argument(
        "--partner-concurrency",
        type=int,
        help="the bench partner's max_concurrency (default: DELIVERY_DRAIN_CONCURRENCY, so it never caps a drainer)",
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
    return args


def parse_pool(parser, item):
    """pool:concurrency, then any of :poll=SECONDS :drain=N, e.g. threads:4:poll=0.01."""
    pool, concurrency, *options = item.strip().split(":")
    try:
        changes = {}
        for option in options:
            name, _, value = option.partition("=")
            changes[name] = {"poll": float, "drain": int}[name](value)
        return Pool(pool, int(concurrency), **changes)
    except (ValueError, KeyError):
        parser.error(f"bad pool {item!r}; use e.g. prefork:1, threads:4 or threads:4:poll=0.01")


# --- The Session loops: the baselines ----------------------------------------------------------------


def session_loop(port, tag, count, warmup=100, threads=0):
    """GETs on requests.Session, same URL shape as the partner's: the floor of one sender.

    threads=0: back to back on one session (sequential). threads=N: a ThreadPoolExecutor of N workers sharing one
    session whose pool keeps N connections, the shape of a drainer with DELIVERY_DRAIN_CONCURRENCY=N.
    """
    import requests

    session = requests.Session()
    if threads:
        session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=threads))
    values = {"payout": "0.75", "status": "approved", "event": "conversion", "timestamp": str(int(time.time()))}

    def url(batch, n):
        path = URL_TEMPLATE.format(click_id=f"{batch}-{n}", transaction_id=f"tx-{batch}-{n}", **values)
        return f"http://{HOST}:{port}{path}"

    def get(batch, n):
        response = session.get(url(batch, n))  # the body is read, as the worker does
        return response.status_code != 200 or response.content != b"ok"

    with ThreadPoolExecutor(max_workers=threads or 1) as pool:
        run = (lambda batch, n: pool.map(get, [batch] * n, range(n))) if threads else None
        if threads:
            list(run(tag + "warm", warmup))  # every thread's connection open
        else:
            for n in range(warmup):
                get(tag + "warm", n)
        started, machine = time.monotonic(), machine_ticks()
        bad = sum(run(tag, count)) if threads else sum(get(tag, n) for n in range(count))
        seconds = time.monotonic() - started
    sink = sink_stats(port, tag)
    return {
        "target": f"requests.Session, thread pool x{threads}" if threads else "requests.Session loop",
        "deliveries": count,
        "per_s": round(count / seconds, 1),
        "machine_cpu_pct": pct(busy_share(machine, machine_ticks())),
        "errors": bad,
        "sink": sink,
        "exactly_once": not bad and sink["requests"] == sink["unique"] == count,
    }


# --- The project side: child processes with Django set up --------------------------------------------


def django_child(command, payload):
    """Runs in a child process with the benchmark's environment: set up, seed, or send without Celery."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    commands = {"setup": child_setup, "seed": child_seed, "attempt_loop": child_attempt_loop, "drain": child_drain}
    print(json.dumps(commands[command](**payload)))


def child_setup(sink_url, partner_concurrency=None):
    """One network, offer and partner pointing at the sink; the broker settings the worker will use.

    The partner may have as many requests in flight as one drainer sends at once (DELIVERY_PARTNER_CONCURRENCY,
    8, would otherwise halve what a drainer of 16 can do against the one partner of the benchmark).
    """
    from decimal import Decimal

    from django.conf import settings

    from partners.models import Partner
    from receiver.models import Network, Offer

    network = Network.objects.create(name="bench network")
    Offer.objects.create(network=network, name="bench offer", url="https://offer.example/?c={click_id}")
    partner = Partner.objects.create(
        name="bench sink",
        slug="bench-sink",
        postback_url=sink_url + URL_TEMPLATE,
        share_value=Decimal("75"),
        max_concurrency=partner_concurrency or settings.DELIVERY_DRAIN_CONCURRENCY,
    )
    return {
        "partner": partner.pk,
        "partner_concurrency": partner.max_concurrency,
        "drain_concurrency": settings.DELIVERY_DRAIN_CONCURRENCY,
        "broker_url": settings.CELERY_BROKER_URL,
        "transport_options": settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    }


def child_seed(partner, count, tag, due=False):
    """`count` conversions, each with its created event and a pending delivery to the partner, in bulk.

    Not due (next attempt in 2999) unless `due`: `feed` makes them due.
    """
    from partners.models import Partner

    when = {} if due else {"next_attempt_at": HELD}
    deliveries = seed_deliveries("bench network", [Partner.objects.get(pk=partner)], count, tag, **when)
    ids = [d.pk for d in deliveries]
    # The benchmark counts a batch by id range: one seeder at a time gets consecutive ids.
    if ids != list(range(ids[0], ids[0] + count)):
        raise RuntimeError("delivery ids are not consecutive")
    return {"first": ids[0], "last": ids[-1], "tag": tag, "count": count}


def child_attempt_loop(partner, count, warmup, tag):
    """partners.delivery.attempt() called in a loop, no Celery: one delivery at a time (lock one, send, record)."""
    from partners.delivery import attempt

    warm = child_seed(partner, warmup, tag + "w", due=True)
    for pk in range(warm["first"], warm["last"] + 1):
        attempt(pk)
    batch = child_seed(partner, count, tag, due=True)
    started = time.monotonic()
    for pk in range(batch["first"], batch["last"] + 1):
        attempt(pk)
    return {**batch, "seconds": time.monotonic() - started}


def child_drain(partner, count, warmup, tag, profile=None):
    """partners.drainer.drain() in this process, no Celery: the drainer alone. With `profile`, under cProfile
    (the drainer's own thread: locking, preparing, recording, waiting; the sends run in its pool's threads)."""
    import cProfile

    from partners.drainer import drain

    child_seed(partner, warmup, tag + "w", due=True)
    drain()
    batch = child_seed(partner, count, tag, due=True)
    profiler = cProfile.Profile() if profile else None
    started = time.monotonic()
    if profiler:
        profiler.enable()
    sent, _ = drain()
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    return {**batch, "seconds": time.monotonic() - started, "sent": sent}


def in_django(env, command, **payload):
    output = run_python(env, str(Path(__file__).relative_to(ROOT)), "_django", command, json.dumps(payload))
    return json.loads(output.strip().splitlines()[-1])


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
    """Counts deliveries with plain SQL, so that this process stays out of the worker's way; releases batches."""

    def __init__(self, database_url):
        parts = urlsplit(database_url)
        self.sqlite = parts.scheme == "sqlite"
        if self.sqlite:
            # Read-only and autocommit: each poll sees the latest commit and never holds the write lock.
            path = "/" + parts.path.lstrip("/")  # sqlite:////tmp/x has the path //tmp/x
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=20)
            self.writer = sqlite3.connect(path, isolation_level=None, timeout=20)
            # The project's writers queue on this lock file (postbacks_project/db.py); so do ours.
            self.writer_lock = open(f"{path}.writer-lock", "a")  # noqa: SIM115 (closed in close())
            self.mark = "?"
        else:
            import psycopg

            self.conn = psycopg.connect(database_url, autocommit=True)
            self.writer, self.writer_lock = self.conn, None
            self.mark = "%s"

    def rows(self, sql, batch):
        return self.conn.execute(sql.replace("%s", self.mark), (batch.first, batch.last)).fetchall()

    def _moment(self, moment):
        # Django keeps SQLite datetimes as UTC text, "YYYY-MM-DD HH:MM:SS.ffffff", and compares them as text.
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds") if self.sqlite else moment

    def _set_next_attempt(self, moment, first, last):
        """One UPDATE of the batch's pending deliveries from id `first` to `last`; how many it changed."""
        sql = "UPDATE partners_delivery SET next_attempt_at = %s WHERE id BETWEEN %s AND %s AND state = 'pending'"
        if self.writer_lock:
            fcntl.flock(self.writer_lock, fcntl.LOCK_EX)
        try:
            return self.writer.execute(sql.replace("%s", self.mark), (self._moment(moment), first, last)).rowcount
        finally:
            if self.writer_lock:
                fcntl.flock(self.writer_lock, fcntl.LOCK_UN)

    def release(self, first, last):
        """Make deliveries `first`..`last` due now, for the next drain to take."""
        return self._set_next_attempt(datetime.now(UTC), first, last)

    def hold(self, batch):
        """What of the batch is not sent yet stops being due: in-flight ones finish, the rest stays pending."""
        return self._set_next_attempt(HELD, batch.first, batch.last)

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
        if self.sqlite:
            self.writer.close()
            self.writer_lock.close()


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


def worker_command(spec, name):
    """The Procfile's worker with the pool under test; mingle and gossip off, as other workers are not ours."""
    command = [str(BIN / "python"), "-m", "celery"]  # exactly as shipped: what `.venv/bin/celery` runs
    command += ["-A", "postbacks_project", "worker", "--loglevel", "INFO", "--pool", spec.pool]
    command += ["--concurrency", str(spec.concurrency), "--hostname", f"{name}@%h"]
    return [*command, "--without-mingle", "--without-gossip"]


@contextlib.contextmanager
def worker(ctx, spec):
    name = f"bench-{os.getpid()}-{spec.slug}"
    log_path = ctx.tmp / f"worker-{ctx.label}-{spec.slug}.log"
    process = start(worker_command(spec, name), ctx.env | spec.env, log_path)
    try:
        wait_for(lambda: " ready." in log_path.read_text(errors="replace"), "worker start", 60, process, log_path)
        yield process, log_path
    finally:
        stop(process, timeout=60)  # warm shutdown: a drain in progress finishes what it has in flight
        # Wake-ups it had not started (and hand-overs it queued) go back to the queue; not for the next worker.
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
    wakeups: int | None
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


def wake(app, count):
    """`count` drain tasks, sent by name: each takes whatever is due, so a few serve a whole batch."""
    with app.producer_or_acquire() as producer:
        for _ in range(count):
            app.send_task(TASK, producer=producer)


# No success for this long while released deliveries wait: one more wake-up (counted and reported, as the sweep
# would have sent one after DELIVERY_SWEEP_GRACE).
WAKE_AGAIN = 5.0


def feed(ctx, batch, spec, process, log_path, seconds, on_progress=None):
    """Release the batch (make it due, `window` at a time) and wake drainers, until it is done or `seconds` passed.

    A release is one UPDATE of next_attempt_at, then `wakeups` drain tasks (default: one per worker slot). At the
    deadline what is not sent yet is held again (not due) and stays pending: only what the worker took counts.
    (done, wake-ups sent again because nothing moved); done == batch.count if all succeeded.
    """
    window = ctx.window or batch.count
    wakeups = ctx.wakeups or spec.concurrency
    released = done = rewakes = 0
    deadline = last_change = last_wake = time.monotonic()
    deadline += seconds
    while done < batch.count:
        if released < batch.count and released - done <= window // 2:
            chunk = min(window, batch.count - released)
            ctx.probe.release(batch.first + released, batch.first + released + chunk - 1)
            released += chunk
            wake(ctx.feeder, wakeups)
            last_wake = time.monotonic()
            continue
        time.sleep(0.05)
        now = time.monotonic()
        if (count := ctx.probe.succeeded(batch)) != done:
            done, last_change = count, now
            if on_progress:
                on_progress(done)
        if now > deadline:
            ctx.probe.hold(batch)
            break
        if process.poll() is not None or now - last_change > STALL_TIMEOUT:
            state = "exited" if process.poll() is not None else f"stalled for {STALL_TIMEOUT} s"
            raise RuntimeError(f"worker {state} at {done}/{batch.count} deliveries; log: {log_path}")
        if now - max(last_change, last_wake) > WAKE_AGAIN:
            wake(ctx.feeder, 1)
            rewakes, last_wake = rewakes + 1, now
    return done, rewakes


# The memory run passes when RSS at its end is at most this much above RSS at the checkpoint.
FLAT_PCT = 10


def bench_pool(ctx, spec, count, seconds, warmup, warmup_seconds, checkpoint=None):
    """One fresh worker: warm-up, then up to `count` deliveries in up to `seconds`; rate, CPU, memory, checks.

    With `checkpoint`, RSS is also taken once `checkpoint` deliveries are done, to compare with the end.
    """
    progress(f"{ctx.label}: worker {spec}: up to {count} deliveries in {seconds:g} s")
    warm, batch = ctx.seed(warmup), ctx.seed(count)
    with worker(ctx, spec) as (process, log_path):
        feed(ctx, warm, spec, process, log_path, warmup_seconds)
        rss_start, cpu_start = tree_usage(process.pid)
        samples = [(0, round(rss_start, 1))]

        def sample(done):  # RSS at each tenth of the batch, to see a trend rather than two points
            if checkpoint and done >= checkpoint and not marks:
                marks.append((done, round(tree_usage(process.pid)[0], 1)))
            if done >= len(samples) * max(1, count // 10):
                samples.append((done, round(tree_usage(process.pid)[0], 1)))

        marks = []
        started, machine = time.monotonic(), machine_ticks()
        done, rewakes = feed(ctx, batch, spec, process, log_path, seconds, on_progress=sample)
        elapsed, machine_cpu = time.monotonic() - started, busy_share(machine, machine_ticks())
        rss_end, cpu_end = tree_usage(process.pid)
    row = measured_row(ctx, f"worker {spec}", batch)
    if checkpoint:
        done = row["deliveries"]
        growth = round((rss_end / marks[0][1] - 1) * 100, 1) if marks else None
        row["memory"] = {"checkpoints": [*marks, (done, round(rss_end, 1))], "growth_pct": growth}
        row["memory"]["flat"] = growth is not None and growth <= FLAT_PCT and done == count
    row.update(
        complete=done == count,
        rewakes=rewakes,
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


def bench_in_process(ctx, command, target, count, warmup):
    """The application path without Celery, in one Django process: attempt() one at a time, or drain()."""
    progress(f"{ctx.label}: {target}: {count} deliveries")
    loop = in_django(ctx.env, command, partner=ctx.partner, count=count, warmup=warmup, tag=ctx.tag())
    batch = Batch(loop["first"], loop["last"], loop["tag"], loop["count"])
    row = measured_row(ctx, target, batch)
    row["per_s"] = round(count / loop["seconds"], 1)  # its own clock: from the first try, not the first success
    return row


# --- Profile: drain() under cProfile -----------------------------------------------------------------


def bench_profile(ctx, count, warmup):
    """drain() in one Django process (no Celery) under cProfile after a warm-up drain: where the drainer's time goes."""
    progress(f"{ctx.label}: drain() under cProfile: {warmup} warm-up, then {count} deliveries profiled")
    profile_path = ctx.tmp / f"drain-{ctx.label}.prof"
    payload = {"partner": ctx.partner, "count": count, "warmup": warmup, "tag": ctx.tag(), "profile": str(profile_path)}
    loop = in_django(ctx.env, "drain", **payload)
    summary = ctx.probe.summary(Batch(loop["first"], loop["last"], loop["tag"], loop["count"]))
    done = summary["states"].get("succeeded", 0)
    return {"worker": "drain(), no Celery"} | profile_summary(profile_path, done, loop["seconds"] / done * 1000)


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
        setup = in_django(env, "setup", sink_url=f"http://{HOST}:{port}", partner_concurrency=args.partner_concurrency)
        probe = Probe(url)
        feeder = feeder_app(setup["broker_url"], setup["transport_options"])
        ctx = Context(label, env, tmp, probe, feeder, setup["partner"], port, args.window, args.wakeups)
        try:
            result = {"database": label, "broker": "redis" if redis_url else "filesystem"}
            result |= {name: setup[name] for name in ("drain_concurrency", "partner_concurrency")}
            return result | run_phases(ctx, args, memory, setup["drain_concurrency"])
        finally:
            probe.close()


def run_phases(ctx, args, memory, threads):
    progress(f"{ctx.label}: requests.Session loop: {args.baseline_requests} requests")
    rows = [session_loop(ctx.port, ctx.tag(), args.baseline_requests)]
    progress(f"{ctx.label}: requests.Session in a thread pool x{threads}: {args.baseline_requests} requests")
    rows.append(session_loop(ctx.port, ctx.tag(), args.baseline_requests, threads=threads))
    rows.append(bench_in_process(ctx, "attempt_loop", "attempt() loop, no Celery", args.deliveries, args.warmup))
    rows.append(bench_in_process(ctx, "drain", "drain(), no Celery", args.deliveries, args.warmup))
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
        row["ratio_pool"] = round(row["per_s"] / rows[1]["per_s"], 3) if row["per_s"] else None
    if args.profile_deliveries:
        result["profile"] = bench_profile(ctx, args.profile_deliveries, args.warmup)
    return result


def pct(share):
    return None if share is None else round(share * 100)


# --- Output ------------------------------------------------------------------------------------------

COLUMNS = [
    ("target", "target"),
    ("deliveries", "deliveries"),
    ("per s", "per_s"),
    ("/ Session", "ratio"),
    ("/ thread pool", "ratio_pool"),
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
        f"{run['seconds']:g} s per worker after {run['warmup']} warm-up; {released(run)}"
        + (f"; the sink answers after {run['latency_ms']:g} ms" if run["latency_ms"] else "")
    )
    for result in report["results"]:
        print(f"\n== {result['database']}" + (f", {result['broker']} broker" if "broker" in result else ""))
        if "skipped" in result:
            print(f"skipped: {result['skipped']}")
            continue
        print(limits(result))
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
        if row.get("rewakes"):
            print(f"wake-ups  {row['target']}: {row['rewakes']} more sent after {WAKE_AGAIN:g} s without a success")
    if "profile" in result:
        profile = result["profile"]
        print(f"\nprofile: {profile['worker']} under cProfile, {profile['ms_per_delivery']} ms per delivery")
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
            wakeups=args.wakeups,
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


def released(run):
    window = f"{run['window']:,} at a time" if run["window"] else "the whole batch at once"
    wakeups = f"{run['wakeups']} drain tasks" if run.get("wakeups") else "one drain task per worker slot"
    return f"deliveries made due {window}, {wakeups} per release"


def limits(result):
    return (
        f"drainer: {result['drain_concurrency']} requests in flight (DELIVERY_DRAIN_CONCURRENCY); "
        f"the partner's max_concurrency: {result['partner_concurrency']}"
    )


def markdown(report):
    """The section of bench/results.md: one row per worker and database, then the memory run."""
    run = report["run"]
    lines = [
        "## Forwarding",
        "",
        f"One worker process (its drain tasks) delivering to a local sink, up to {run['deliveries']:,} deliveries "
        f"or {run['seconds']:g} s per worker after {run['warmup']} warm-up; {released(run)}. Baselines in the same "
        "run to the same sink: a sequential `requests.Session` loop, and a thread pool of the drainer's concurrency "
        "sharing one `requests.Session`.",
        "",
    ]
    lines += [f"- {result['database']}: {limits(result)}" for result in report["results"] if "skipped" not in result]
    lines += [
        "",
        "| database, broker | worker | per s | / Session | / thread pool | worker cpu % | RSS MB start → end "
        "| exactly once |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for result in report["results"]:
        if "skipped" in result:
            notes.append(f"{result['database']}: skipped ({result['skipped']})")
            continue
        where = f"{result['database']}, {result['broker']}"
        for row in result["targets"]:
            rss = f"{row['rss_start_mb']} → {row['rss_end_mb']}" if "rss_start_mb" in row else ""
            if row.get("rewakes"):
                notes.append(f"{where}, {row['target']}: {row['rewakes']} wake-ups sent again after a stall")
            lines.append(
                f"| {where} | {row['target']} | {row['per_s']} | {row['ratio']} | {row['ratio_pool']} | "
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
    lines += ["", *[f"- {note}" for note in notes]]
    profiled = [result for result in report["results"] if "profile" in result]
    if profiled:
        intro = (
            f"Where the drainer's time goes: {profiled[0]['profile']['worker']} under cProfile (its own thread; the "
            "sends run in its pool), ms per delivery and share; `calls` per delivery (1 / calls is the deliveries per "
            "batch). cProfile slows the ORM more than the waits: read the shares."
        )
        lines += ["", intro, ""]
        lines.append("| part | " + " | ".join(f"{r['database']} calls | ms | share" for r in profiled) + " |")
        lines.append("|---|" + "---|---|---|" * len(profiled))
        for n, part in enumerate(profiled[0]["profile"]["parts"]):
            cells = [r["profile"]["parts"][n] for r in profiled]
            label = part["part"].strip().replace("|", "/")
            indent = "&nbsp;" * (len(part["part"]) - len(part["part"].lstrip()))
            lines.append(f"| {indent}{label} | " + " | ".join(
                f"{c['calls']} | {c['ms']} | {c['share_pct']} %" for c in cells) + " |")  # fmt: skip
    return "\n".join(lines) + "\n"


def failed(report):
    """Something needs a look: a delivery not sent exactly once, a Session loop error, memory not flat."""
    rows = [row for r in report["results"] for row in r.get("targets", [])]
    return any(not row["exactly_once"] or not row.get("memory", {"flat": True})["flat"] for row in rows)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_django"]:
        return django_child(argv[1], json.loads(argv[2]))
    args = parse_args(argv)
    if not (BIN / "celery").exists():
        sys.exit(f"no celery next to {sys.executable}; run `make setup`, then `.venv/bin/python bench/forwarding.py`")
    return main_loop(args, run, print_report, failed, prefix="postbacks-bench-forwarding-")


if __name__ == "__main__":
    sys.exit(main())
