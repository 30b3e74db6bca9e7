"""What the benchmarks share: temp databases, the project's environment, process lifecycle, cleanup and tables.

The benchmarks (bench/receiver.py, forwarding.py, scale_out.py, prune.py, ...) import this module (it sits next to
them, on sys.path).
"""

import contextlib
import datetime
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# The interpreter running us is the project's virtualenv (`make bench` passes $(VENV)/bin/python),
# so gunicorn, celery and manage.py come from the same place.
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"  # loopback only: nothing a benchmark starts may be reachable from outside
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379"
DATABASES = ("sqlite", "postgres")


def add_common_arguments(parser):
    """The options all the benchmarks take, so that one BENCH_ARGS fits them all."""
    parser.add_argument(
        "--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres (default both)"
    )
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES, help="admin URL used to create and drop the bench database"
    )
    parser.add_argument(
        "--redis-url",
        help=f"Redis database of forwarding and scale-out, flushed (default: an empty one 2-14 of {REDIS})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    parser.add_argument("--out", type=Path, help="also write the JSON document (with a markdown table) to this file")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (logs, SQLite file)")


def check_databases(parser, args):
    """Turn --databases into a list, refusing names we do not know."""
    args.databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    unknown = set(args.databases) - set(DATABASES)
    if unknown:
        parser.error(f"unknown database(s): {', '.join(sorted(unknown))}")


def progress(message):
    """Progress goes to stderr so that --json output on stdout stays one clean document."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def run_info(args, **extra):
    """When and where, and how loaded the machine was at the start (1, 5, 15 minute load averages)."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "quick": args.quick,
        **extra,
    }


# --- Databases -------------------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_database(tmp, name="db.sqlite3"):
    yield f"sqlite:///{tmp / name}"


@contextlib.contextmanager
def postgres_database(admin_url):
    """Create a throw-away database next to `admin_url`'s and drop it afterwards, whatever happens."""
    import psycopg

    name = f"postbacks_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            # FORCE: a connection left behind by a killed worker must not keep the database alive.
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_reachable(admin_url):
    """ "" when PostgreSQL answers, else the first line of why not."""
    try:
        import psycopg

        psycopg.connect(admin_url, connect_timeout=3).close()
    except Exception as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ""


@contextlib.contextmanager
def redis_database(url=None):
    """Yield (URL of a Redis database for the run, "") or (None, why not); flushed at the end, and first if named."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3) if url else spare_redis_db()
        if url:
            client.flushdb()
    except redis.RedisError as exc:
        yield None, str(exc) or type(exc).__name__
        return
    try:
        kwargs = client.connection_pool.connection_kwargs
        yield f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs['db']}", ""
    finally:
        with contextlib.suppress(redis.RedisError):
            client.flushdb()


def spare_redis_db():
    """An empty database of the local Redis, claimed with a marker key so that two benchmarks do not share it.

    0 and 1 (the README's broker and cache) and 15 (a usual pick for tests) are left alone.
    """
    import redis

    for db in range(14, 1, -1):
        client = redis.Redis.from_url(f"{REDIS}/{db}", socket_connect_timeout=3)
        if client.dbsize() == 0 and client.set("postbacks-bench", os.getpid(), nx=True):
            if client.dbsize() == 1:
                return client
            client.delete("postbacks-bench")  # someone else started using it at the same moment
    raise redis.RedisError("no empty database among 2-14")


def each_database(args, tmp):
    """Yield (label, database context manager or None, why skipped) for each database asked for."""
    for label in args.databases:
        if label == "sqlite":
            yield label, sqlite_database(tmp), ""
            continue
        unreachable = postgres_reachable(args.postgres_url)
        if unreachable:
            progress(f"postgres: skipped, not reachable: {unreachable}")
            yield label, None, unreachable
        else:
            yield label, postgres_database(args.postgres_url), ""


# --- The project: environment, manage.py -------------------------------------------------------------


def django_env(database_url, var_dir, **extra):
    """The environment of every project process a benchmark starts; `extra` adds or overrides variables."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="postbacks_project.settings",
        DATABASE_URL=database_url,
        VAR_DIR=str(var_dir),
        DEBUG="false",  # DEBUG keeps every query in memory and would slow the run down
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def manage(env, *args):
    return run_python(env, "manage.py", *args)


def run_python(env, *args):
    """Run the virtualenv's python in the project root; its stdout, or RuntimeError with its stderr."""
    result = subprocess.run(
        [str(BIN / "python"), *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stderr.strip()}")
    return result.stdout


# --- Processes ---------------------------------------------------------------------------------------


def listening_socket():
    """Bind here and hand the socket to the server (by fd): no race for a free port, and loopback only."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(1024)
    return sock


def start(command, env, log_path, pass_fds=()):
    """Start a process logging to `log_path`, in its own session: Ctrl-C reaches only us, and we stop it in order."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=log, pass_fds=pass_fds, start_new_session=True
        )


def stop(process, timeout=10):
    """SIGTERM, then SIGKILL after `timeout`; then whatever is left of its process group (pool children)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def gunicorn(env, log_path, workers, threads):
    """gunicorn gthread on a loopback port until the block ends; yield the port. Needs BENCHMARK_ENDPOINTS=true."""
    import http.client

    sock = listening_socket()
    port = sock.getsockname()[1]
    command = [
        str(BIN / "gunicorn"),
        "postbacks_project.wsgi",
        f"--bind=fd://{sock.fileno()}",
        "--worker-class=gthread",
        f"--workers={workers}",
        f"--threads={threads}",
        "--graceful-timeout=5",
        "--log-level=warning",
    ]
    server = start(command, env, log_path, pass_fds=[sock.fileno()])
    sock.close()

    def serving():
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/bench/bare/")
            try:
                return conn.getresponse().status == 200
            finally:
                conn.close()
        return False

    try:
        wait_for(serving, "gunicorn answering /bench/bare/", 30, server, log_path, interval=0.2)
        yield port
    finally:
        stop(server)


def tail(path, lines=20):
    with contextlib.suppress(OSError):
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    return ""


# The last line of a traceback ("...OperationalError: database is locked"), gunicorn's "[ERROR] ..."
# and Django's "ERROR django.request Service Unavailable: ..." (the project's log format).
SERVER_ERROR = re.compile(r"^[\w.]+(?:Error|Exception)\b|\[(?:WARNING|ERROR|CRITICAL)\]|^(?:WARNING|ERROR|CRITICAL) ")
# Timestamps and pids make every line unique; strip them so that repeats are counted.
LOG_PREFIX = re.compile(r"^\[[^]]*\] \[\d+\] |^\d{4}-\d\d-\d\d \S+ ")


def log_errors(log_path, pattern=SERVER_ERROR, prefix=LOG_PREFIX):
    """The ten most frequent distinct error lines of a log, so that odd behaviour is reported verbatim."""
    with contextlib.suppress(OSError):
        text = Path(log_path).read_text(errors="replace")
        lines = (prefix.sub("", line) for line in text.splitlines())
        return Counter(line for line in lines if pattern.search(line)).most_common(10)
    return []


def machine_ticks():
    """(busy, total) CPU ticks of the whole machine from /proc/stat; None where there is no /proc."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(n) for n in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def busy_share(before, after):
    """Near 100 % means the run was CPU-bound; well below means waiting (locks, fsync, the client)."""
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


# --- Output and the main loop ------------------------------------------------------------------------


def print_table(rows, columns):
    """`columns` is [(title, key)]; the first column is left-aligned, the others right-aligned; None is "-"."""
    cells = [["-" if row.get(key) is None else str(row[key]) for _, key in columns] for row in rows]
    widths = [max(len(title), *(len(r[i]) for r in cells)) for i, (title, _) in enumerate(columns)]
    for line in [[title for title, _ in columns], *cells]:
        print("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(line, widths, strict=True))))


def interrupted(signum, frame):
    """Ctrl-C or SIGTERM: unwind through the cleanup, which a second Ctrl-C must not cut short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def main_loop(args, run, print_report, failed, prefix="postbacks-bench-"):
    """Run `run(args, tmp)` in a temp dir removed afterwards (also on Ctrl-C); print; exit status.

    0 when fine, 1 when `failed(report)` says something needs a look, 130 on Ctrl-C or SIGTERM.
    """
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        report = run(args, tmp)
    except KeyboardInterrupt:
        progress("interrupted")
        return 130
    finally:
        if args.keep_temp:
            progress(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 1 if failed(report) else 0


def wait_for(predicate, what, timeout, process=None, log_path=None, interval=0.1):
    """Poll until `predicate()` is true; RuntimeError on timeout or when `process` exits, with its log's tail."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {process.returncode}:\n{tail(log_path)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:g} s:\n{tail(log_path)}")
        time.sleep(interval)


def seed_deliveries(network_name, partners, count, tag, **delivery_fields):
    """In a Django child: `count` approved conversions of the named network, each with its created event (routed)
    and one delivery per partner, amounts fixed as partners.delivery.create_for_events fixes them, in bulk.

    `delivery_fields` go to every delivery (e.g. a `next_attempt_at` that keeps them from being due). Returns the
    deliveries in the order created, event by event and partner by partner.
    """
    from decimal import Decimal

    from django.utils import timezone

    from partners import amounts
    from partners.models import Delivery
    from receiver.models import Conversion, ConversionEvent, Offer

    offer = Offer.objects.select_related("network").get(network__name=network_name)
    conversions = Conversion.objects.bulk_create(
        (
            Conversion(
                network=offer.network,
                offer=offer,
                click_id=f"{tag}-{n}",
                dedupe_id=f"tx-{tag}-{n}",
                transaction_id=f"tx-{tag}-{n}",
                user_id=f"user-{n}",
                status="approved",
                payout=Decimal("1.00"),
            )
            for n in range(count)
        ),
        batch_size=2000,
    )
    # Marked routed: the worker's outbox leaves these events alone, their deliveries are made here.
    routed = timezone.now()
    events = ConversionEvent.objects.bulk_create(
        (
            ConversionEvent(conversion=c, kind="created", to_status="approved", payout=c.payout, routed_at=routed)
            for c in conversions
        ),
        batch_size=2000,
    )
    rows = [
        amounts.fix(Delivery(event=event, destination=partner, **delivery_fields), event, partner, None, amounts.Held())
        for event in events
        for partner in partners
    ]
    if any(row.amount is None for row in rows):
        raise RuntimeError("seeded deliveries have no amount")
    return Delivery.objects.bulk_create(rows, batch_size=2000)
