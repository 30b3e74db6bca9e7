"""Receiver throughput benchmark: the postback endpoint vs a bare and a one-insert Django view, same server and run.

Run with `.venv/bin/python bench/receiver.py` (or `make bench`); `--quick` for a smoke run, `--json` for
machine-readable output. See bench/README.md for what the figures mean.
"""

import argparse
import asyncio
import contextlib
import http.client
import itertools
import json
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from common import (
    BIN,
    HOST,
    add_common_arguments,
    busy_share,
    check_databases,
    django_env,
    each_database,
    listening_socket,
    log_errors,
    machine_ticks,
    main_loop,
    manage,
    print_table,
    progress,
    run_info,
    start,
    stop,
    tail,
)

REQUEST_TIMEOUT = 30  # seconds; a hung request is an error, not a hung benchmark


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections (default 32)")
    parser.add_argument("--duration", type=float, help="measured seconds per target (default 20, quick 3)")
    parser.add_argument("--warmup", type=float, help="unmeasured seconds per target first (default 3, quick 1)")
    parser.add_argument("--quick", action="store_true", help="a ~30 s smoke run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (default 8)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    args.duration = args.duration or (3.0 if args.quick else 20.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0)
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
import json
from receiver.models import Conversion
measured = Conversion.objects.filter(click_id__startswith={prefix!r}).count()
print(json.dumps({{"all": Conversion.objects.count(), "measured": measured}}))
"""


def count_conversions(env, prefix):
    """Conversions in the database: all of them, and those from the measured phase (ids start with `prefix`)."""
    output = manage(env, "shell", "--no-imports", "-c", COUNT_CONVERSIONS.format(prefix=prefix))
    return json.loads(output.strip().splitlines()[-1])


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
    server = start(command, env, log_path, pass_fds=[sock.fileno()])
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


# --- One database ------------------------------------------------------------------------------------


def bench_database(label, database, tmp, args):
    """Fresh database, one gunicorn, the three targets in turn; return the results for `label`."""
    with database as url:
        env = receiver_env(url, tmp / "var")
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
        "server_errors": [{"count": n, "line": line} for line, n in log_errors(log_path)],
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
        print_table(result["targets"], COLUMNS)
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


# --- Main --------------------------------------------------------------------------------------------


def run(args, tmp):
    report = {
        "run": run_info(
            workers=args.workers,
            threads=args.threads,
            concurrency=args.concurrency,
            duration_s=args.duration,
            warmup_s=args.warmup,
        ),
        "results": [],
    }
    for label, database, skipped in each_database(args, tmp):
        if database is None:
            report["results"].append({"database": label, "skipped": skipped})
        else:
            report["results"].append(bench_database(label, database, tmp, args))
    return report


def failed(report):
    """Something needs a look: any error, or conversions that do not add up."""
    results = [r for r in report["results"] if "skipped" not in r]
    return any(not r["conversions"]["match"] or any(t["errors"] for t in r["targets"]) for r in results)


def main(argv=None):
    args = parse_args(argv)
    if not (BIN / "gunicorn").exists():
        sys.exit(f"no gunicorn next to {sys.executable}; run `make setup`, then `.venv/bin/python bench/receiver.py`")
    return main_loop(args, run, print_report, failed)


if __name__ == "__main__":
    sys.exit(main())
