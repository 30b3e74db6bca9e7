"""The receiver benchmark's load generators: wrk (Debian's package) driven by a Lua script, or plain asyncio.

Both keep `concurrency` keep-alive connections busy for a number of seconds, give every request a unique id
(so that every receiver request creates a conversion), check every answer, and return the same summary.
"""

import asyncio
import json
import math
import resource
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from common import HOST, busy_share, machine_ticks

REQUEST_TIMEOUT = 30  # seconds; a hung request is an error, not a hung benchmark
WRK_SCRIPT = Path(__file__).with_name("receiver.lua")
WRK_INSTALL = "apt-get install wrk (Debian's package), or run with --client asyncio"


def wrk_path():
    return shutil.which("wrk")


@dataclass(frozen=True)
class Target:
    """`path` may hold "{uid}", replaced by a new id in every request; `check` is "ok" or "receiver"."""

    name: str
    path: str
    check: str


def targets(key):
    receiver = f"/postback/{key}/?click_id={{uid}}&payout=1.00&status=approved&transaction_id=tx-{{uid}}"
    return [
        Target("bare", "/bench/bare/", "ok"),
        Target("insert", "/bench/insert/", "ok"),
        Target("receiver", receiver, "receiver"),
    ]


def summary(name, requests, ok, seconds, p50, p99, errors, client_cpu, machine_cpu):
    """The row every client reports; rates use real elapsed seconds, errors is a Counter of kinds."""
    return {
        "target": name,
        "requests": requests,
        "req_per_s": round(requests / seconds, 1) if seconds else 0.0,
        "ok_per_s": round(ok / seconds, 1) if seconds else 0.0,
        "p50_ms": round(p50 * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "errors": sum(errors.values()),
        "ok": ok,
        "client_cpu_pct": round(client_cpu * 100),
        "machine_cpu_pct": None if machine_cpu is None else round(machine_cpu * 100),
        "error_kinds": dict(errors.most_common()),
    }


# --- wrk -----------------------------------------------------------------------------------------------


def run_wrk(port, target, prefix, seconds, concurrency, threads=2):
    """One wrk run; requests still in flight at the end are dropped by wrk, not counted (the server may finish them)."""
    command = [wrk_path(), f"--threads={min(threads, concurrency)}", f"--connections={concurrency}"]
    command += [f"--duration={max(1, math.ceil(seconds))}s", f"--timeout={REQUEST_TIMEOUT}s", "--latency"]
    command += [f"--script={WRK_SCRIPT}", f"http://{HOST}:{port}/", "--", prefix, target.path, target.check]
    before, machine = resource.getrusage(resource.RUSAGE_CHILDREN), machine_ticks()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    after, machine_cpu = resource.getrusage(resource.RUSAGE_CHILDREN), busy_share(machine, machine_ticks())
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode or not lines:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    out = json.loads(lines[-1])
    elapsed = out["duration_us"] / 1e6
    errors = Counter({kind: out[kind] for kind in ("connect", "read", "write", "timeout") if out[kind]})
    errors = Counter({f"client: {kind}": n for kind, n in errors.items()})
    if out["bad"]:
        errors["not a success (wrong status or body)"] = out["bad"]
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return summary(
        target.name, out["requests"], out["ok"], elapsed, out["p50_us"] / 1e6, out["p99_us"] / 1e6, errors,
        cpu / elapsed, machine_cpu,
    )  # fmt: skip


# --- asyncio ---------------------------------------------------------------------------------------------


@dataclass
class Load:
    latencies: list = field(default_factory=list)  # seconds, one per response received
    errors: Counter = field(default_factory=Counter)
    ok: int = 0
    sent: int = 0


def percentile(ordered, pct):
    """Nearest-rank percentile of an already sorted list."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def check(kind, status, body):
    """ "" if the answer is a success; the receiver must say success true, never duplicate (ids are unique)."""
    if kind == "ok":
        return "" if status == 200 and body == b"ok" else f"HTTP {status}"
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


async def connection_loop(port, target, prefix, deadline, load):
    """One keep-alive connection sending requests back to back until the deadline."""
    reader = writer = None
    while time.monotonic() < deadline:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                if writer is None:
                    reader, writer = await asyncio.open_connection(HOST, port)
                started = time.perf_counter()
                load.sent += 1
                path = target.path.replace("{uid}", f"{prefix}-{load.sent}")
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode())
                status, body, closing = await read_response(reader)
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
            load.errors[f"client: {type(exc).__name__}"] += 1
            writer = close(writer)
            await asyncio.sleep(0.05)  # do not spin if the server refuses connections
            continue
        load.latencies.append(time.perf_counter() - started)
        problem = check(target.check, status, body)
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


async def apply_load(port, target, prefix, seconds, concurrency):
    load = Load()
    cpu, wall, machine = time.process_time(), time.monotonic(), machine_ticks()
    deadline = wall + seconds
    await asyncio.gather(*(connection_loop(port, target, prefix, deadline, load) for _ in range(concurrency)))
    # Requests in flight at the deadline are finished and counted, so divide by the real elapsed time.
    elapsed = time.monotonic() - wall
    machine_cpu = busy_share(machine, machine_ticks())
    ordered = sorted(load.latencies)
    return summary(
        target.name, len(ordered), load.ok, elapsed, percentile(ordered, 50), percentile(ordered, 99), load.errors,
        (time.process_time() - cpu) / elapsed, machine_cpu,
    )  # fmt: skip


def run_asyncio(port, target, prefix, seconds, concurrency):
    return asyncio.run(apply_load(port, target, prefix, seconds, concurrency))


def run_load(client, port, target, prefix, seconds, concurrency):
    """`client` is "wrk" or "asyncio"; unique ids are "<prefix>-..." in both."""
    runner = run_wrk if client == "wrk" else run_asyncio
    return runner(port, target, prefix, seconds, concurrency)
