"""Receiver throughput benchmark: the postback endpoint vs a bare and a one-insert Django view, same server and run.

Run with `.venv/bin/python bench/receiver.py` (or `make bench`); `--quick` for a smoke run, `--json` for
machine-readable output. See bench/README.md for what the figures mean.
"""

import argparse
import asyncio
import contextlib
import datetime
import http.client
import itertools
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# The interpreter running us is the project's virtualenv (`make bench` passes $(VENV)/bin/python),
# so gunicorn and manage.py come from the same place.
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"  # loopback only: the benchmark server must never be reachable from outside
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
REQUEST_TIMEOUT = 30  # seconds; a hung request is an error, not a hung benchmark


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections (default 32)")
    parser.add_argument("--duration", type=float, help="measured seconds per target (default 20, quick 3)")
    parser.add_argument("--warmup", type=float, help="unmeasured seconds per target first (default 3, quick 1)")
    parser.add_argument("--quick", action="store_true", help="a ~30 s smoke run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (default 8)")
    parser.add_argument(
        "--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres (default both)"
    )
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES, help="admin URL used to create and drop the bench database"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (server logs, SQLite file)")
    args = parser.parse_args(argv)
    args.duration = args.duration or (3.0 if args.quick else 20.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0)
    args.databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    unknown = set(args.databases) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown database(s): {', '.join(sorted(unknown))}")
    return args


def progress(message):
    """Progress goes to stderr so that --json output on stdout stays one clean document."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- Databases -------------------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_database(tmp):
    yield f"sqlite:///{tmp / 'db.sqlite3'}"


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
    try:
        import psycopg

        psycopg.connect(admin_url, connect_timeout=3).close()
    except Exception as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ""


# --- The project: environment, manage.py, gunicorn ---------------------------------------------------


def django_env(database_url, var_dir):
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="postbacks_project.settings",
        DATABASE_URL=database_url,
        VAR_DIR=str(var_dir),
        BENCHMARK_ENDPOINTS="true",
        RECEIVER_RATE_LIMIT="",  # off: we measure the receiver's work, not how fast it says 429
        DEBUG="false",  # DEBUG keeps every query in memory and would slow the run down
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env, *args):
    result = subprocess.run(
        [str(BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr.strip()}")
    return result.stdout


def prepare_database(env):
    """Migrate the fresh database and create the one network every receiver request posts to."""
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    created = json.loads(manage(env, "create_network", f"bench-{secrets.token_hex(3)}", "--json"))
    return created["key"]


COUNT_CONVERSIONS = """
import json
from receiver.models import Conversion
measured = Conversion.objects.filter(click_id__startswith={prefix!r}).count()
print(json.dumps({{"all": Conversion.objects.count(), "measured": measured}}))
"""


def count_conversions(env, prefix):
    """Conversions in the database: all of them, and those from the measured phase (ids start with `prefix`)."""
    output = manage(env, "shell", "--no-imports", "-c", COUNT_CONVERSIONS.format(prefix=prefix))
    return json.loads(output.strip().splitlines()[-1])


def listening_socket():
    """Bind here and hand the socket to gunicorn (fd://): no race for a free port, and loopback only."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(1024)
    return sock


@contextlib.contextmanager
def gunicorn(env, args, log_path):
    """Run gunicorn on a loopback port until the block ends; yield the port."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    command = [
        str(BIN / "gunicorn"),
        "postbacks_project.wsgi",
        f"--bind=fd://{sock.fileno()}",
        "--worker-class=gthread",
        f"--workers={args.workers}",
        f"--threads={args.threads}",
        "--graceful-timeout=5",
        "--log-level=warning",
    ]
    with open(log_path, "ab") as log:
        # Own session: Ctrl-C reaches only us, and we stop the server in order below.
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=log, pass_fds=[sock.fileno()], start_new_session=True
        )
    sock.close()
    try:
        wait_until_serving(server, port, log_path)
        yield port
    finally:
        stop(server)


def wait_until_serving(server, port, log_path, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}:\n{tail(log_path)}")
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/bench/bare/")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /bench/bare/ within {timeout} s:\n{tail(log_path)}")


def stop(server):
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def tail(path, lines=20):
    with contextlib.suppress(OSError):
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    return ""


# The last line of a traceback ("...OperationalError: database is locked"), gunicorn's "[ERROR] ..."
# and Django's "ERROR django.request Service Unavailable: ..." (the project's log format).
SERVER_ERROR = re.compile(r"^[\w.]+(?:Error|Exception)\b|\[(?:WARNING|ERROR|CRITICAL)\]|^(?:WARNING|ERROR|CRITICAL) ")


def server_errors(log_path):
    """Count the distinct error lines the server logged, so that odd behaviour is reported verbatim."""
    with contextlib.suppress(OSError):
        text = Path(log_path).read_text(errors="replace")
        # Timestamps and pids make every line unique; strip them so that repeats are counted.
        lines = (re.sub(r"^\[[^]]*\] \[\d+\] |^\d{4}-\d\d-\d\d \S+ ", "", line) for line in text.splitlines())
        return Counter(line for line in lines if SERVER_ERROR.search(line)).most_common(10)
    return []


# --- Load generator ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    path: Callable[[str], str]  # unique id -> request path
    check: Callable[[int, bytes], str]  # (status, body) -> "" if fine, else an error label


@dataclass
class Load:
    latencies: list = field(default_factory=list)  # seconds, one per response received
    errors: Counter = field(default_factory=Counter)
    ok: int = 0
    seconds: float = 0.0
    client_cpu: float = 0.0  # share of one core the load generator itself used
    machine_cpu: float | None = None  # share of all cores busy (server, database and client together)

    def summary(self, name):
        ordered = sorted(self.latencies)
        return {
            "target": name,
            "requests": len(ordered),
            "req_per_s": round(len(ordered) / self.seconds, 1) if self.seconds else 0.0,
            "ok_per_s": round(self.ok / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(percentile(ordered, 50) * 1000, 1),
            "p99_ms": round(percentile(ordered, 99) * 1000, 1),
            "errors": sum(self.errors.values()),
            "ok": self.ok,
            "client_cpu_pct": round(self.client_cpu * 100),
            "machine_cpu_pct": None if self.machine_cpu is None else round(self.machine_cpu * 100),
            "error_kinds": dict(self.errors.most_common()),
        }


def percentile(ordered, pct):
    """Nearest-rank percentile of an already sorted list."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def check_ok(status, body):
    return "" if status == 200 and body == b"ok" else f"HTTP {status}"


def check_receiver(status, body):
    """The receiver must answer 200 with success true; a duplicate cannot happen with unique ids."""
    try:
        answer = json.loads(body)
    except ValueError:
        return f"HTTP {status}, body not JSON"
    if status != 200:
        return f"HTTP {status} ({answer.get('reason', '?')})"
    if answer.get("duplicate"):
        return "duplicate"
    if answer.get("success") is not True:
        return f"success=false ({answer.get('reason', '?')})"
    return ""


def targets(key):
    def receiver_path(uid):
        return f"/postback/{key}/?click_id={uid}&payout=1.00&status=approved&transaction_id=tx-{uid}"

    return [
        Target("bare", lambda uid: "/bench/bare/", check_ok),
        Target("insert", lambda uid: "/bench/insert/", check_ok),
        Target("receiver", receiver_path, check_receiver),
    ]


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    # Django's CommonMiddleware always sets Content-Length, so chunked bodies are not worth parsing here.
    if "content-length" not in headers:
        raise ValueError("response without Content-Length")
    body = await reader.readexactly(int(headers["content-length"]))
    return status, body, headers.get("connection", "").lower() == "close"


async def connection_loop(port, target, ids, deadline, load):
    """One keep-alive connection sending requests back to back until the deadline."""
    reader = writer = None
    while time.monotonic() < deadline:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                if writer is None:
                    reader, writer = await asyncio.open_connection(HOST, port)
                started = time.perf_counter()
                path = target.path(next(ids))
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode())
                status, body, closing = await read_response(reader)
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
            load.errors[f"client: {type(exc).__name__}"] += 1
            writer = close(writer)
            await asyncio.sleep(0.05)  # do not spin if the server refuses connections
            continue
        load.latencies.append(time.perf_counter() - started)
        problem = target.check(status, body)
        if problem:
            load.errors[problem] += 1
        else:
            load.ok += 1
        if closing:
            writer = close(writer)
    close(writer)


def close(writer):
    if writer is not None:
        writer.close()
    return None


async def apply_load(port, target, ids, seconds, concurrency):
    load = Load()
    cpu, wall, machine = time.process_time(), time.monotonic(), machine_ticks()
    deadline = wall + seconds
    await asyncio.gather(*(connection_loop(port, target, ids, deadline, load) for _ in range(concurrency)))
    # Requests in flight at the deadline are finished and counted, so divide by the real elapsed time.
    load.seconds = time.monotonic() - wall
    load.client_cpu = (time.process_time() - cpu) / load.seconds
    load.machine_cpu = busy_share(machine, machine_ticks())
    return load


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


# --- One database ------------------------------------------------------------------------------------


def bench_database(label, database, tmp, args):
    """Fresh database, one gunicorn, the three targets in turn; return the results for `label`."""
    with database as url:
        env = django_env(url, tmp / "var")
        progress(f"{label}: migrating a fresh database")
        key = prepare_database(env)
        log_path = tmp / f"gunicorn-{label}.log"
        token = secrets.token_hex(3)  # keeps ids unique across runs against the same database
        rows, receiver_ok = [], {}
        with gunicorn(env, args, log_path) as port:
            for target in targets(key):
                progress(f"{label}: {target.name}: {args.warmup:g} s warm-up, {args.duration:g} s measured")
                warm = asyncio.run(apply_load(port, target, ids_for(f"w{token}"), args.warmup, args.concurrency))
                load = asyncio.run(apply_load(port, target, ids_for(f"m{token}"), args.duration, args.concurrency))
                rows.append(load.summary(target.name))
                if target.name == "receiver":
                    receiver_ok = {"measured": load.ok, "all": load.ok + warm.ok}
        counted = count_conversions(env, f"m{token}-")
    return {
        "database": label,
        "targets": rows,
        "ratios": ratios(rows),
        "conversions": {"in_db": counted, "successful_requests": receiver_ok, "match": counted == receiver_ok},
        "server_errors": [{"count": n, "line": line} for line, n in server_errors(log_path)],
    }


def ids_for(prefix):
    return (f"{prefix}-{n}" for n in itertools.count())


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
    ("p50 ms", "p50_ms"),
    ("p99 ms", "p99_ms"),
    ("errors", "errors"),
    ("client cpu %", "client_cpu_pct"),
    ("machine cpu %", "machine_cpu_pct"),
]


def print_report(report):
    run = report["run"]
    print(
        f"{run['date']}  {run['cpus']} CPUs  gunicorn gthread {run['workers']}x{run['threads']}  "
        f"{run['concurrency']} connections  {run['duration_s']:g} s per target after {run['warmup_s']:g} s warm-up"
    )
    for result in report["results"]:
        print(f"\n== {result['database']}")
        if "skipped" in result:
            print(f"skipped: {result['skipped']}")
            continue
        print_table(result["targets"])
        r = result["ratios"]
        print(f"receiver / bare    {r['receiver_per_bare']}")
        print(f"receiver / insert  {r['receiver_per_insert']}")
        c = result["conversions"]
        verdict = "match" if c["match"] else "MISMATCH"
        print(
            f"conversions in db  {c['in_db']['measured']} (measured), {c['in_db']['all']} (with warm-up); "
            f"successful receiver requests {c['successful_requests']['measured']}, "
            f"{c['successful_requests']['all']}: {verdict}"
        )
        for row in result["targets"]:
            for kind, n in row["error_kinds"].items():
                print(f"error  {row['target']}: {n} x {kind}")
        for item in result["server_errors"]:
            print(f"server log  {item['count']} x {item['line']}")


def print_table(rows):
    cells = [["-" if row[key] is None else str(row[key]) for _, key in COLUMNS] for row in rows]
    widths = [max(len(title), *(len(r[i]) for r in cells)) for i, (title, _) in enumerate(COLUMNS)]
    print(
        "  ".join(
            title.rjust(w) if i else title.ljust(w)
            for i, ((title, _), w) in enumerate(zip(COLUMNS, widths, strict=True))
        )
    )
    for row in cells:
        print("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True))))


# --- Main --------------------------------------------------------------------------------------------


def interrupted(signum, frame):
    """Ctrl-C or SIGTERM: unwind through the cleanup, which a second Ctrl-C must not cut short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def run(args, tmp):
    report = {
        "run": {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "workers": args.workers,
            "threads": args.threads,
            "concurrency": args.concurrency,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
        },
        "results": [],
    }
    for label in args.databases:
        if label == "sqlite":
            database = sqlite_database(tmp)
        else:
            unreachable = postgres_reachable(args.postgres_url)
            if unreachable:
                progress(f"postgres: skipped, not reachable: {unreachable}")
                report["results"].append({"database": label, "skipped": unreachable})
                continue
            database = postgres_database(args.postgres_url)
        report["results"].append(bench_database(label, database, tmp, args))
    return report


def main(argv=None):
    args = parse_args(argv)
    if not (BIN / "gunicorn").exists():
        sys.exit(f"no gunicorn next to {sys.executable}; run `make setup`, then `.venv/bin/python bench/receiver.py`")
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    tmp = Path(tempfile.mkdtemp(prefix="postbacks-bench-"))
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
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    # Non-zero when something needs a look: any error, or conversions that do not add up.
    results = [r for r in report["results"] if "skipped" not in r]
    failed = any(not r["conversions"]["match"] or any(t["errors"] for t in r["targets"]) for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
