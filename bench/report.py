"""Assemble bench/results.md from the benchmarks' --out JSON files: the machine, the date, then each one's tables.

`make bench` runs `.venv/bin/python bench/report.py bench/out > bench/results.md` after the benchmarks.
A run made with --quick, or on a machine that was busy when a benchmark started, says so in the header.
"""

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import targets
from common import DEFAULT_POSTGRES, REDIS, ROOT

SECTIONS = [("receiver.json", "bench/receiver.py"), ("receiver_profile.json", "bench/receiver_profile.py"),
            ("forwarding.json", "bench/forwarding.py"), ("scale_out.json", "bench/scale_out.py"),
            ("backlog.json", "bench/backlog.py"),
            ("prune.json", "bench/prune.py")]  # fmt: skip


def first_line(path, prefix):
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1].strip('"')
    return "?"


def command_output(*command):
    with contextlib.suppress(OSError):
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
        return (result.stdout + result.stderr).strip().splitlines()[0] if result.stdout + result.stderr else "?"
    return "?"


def service_versions(postgres_url, redis_url):
    versions = {"SQLite": sqlite3.sqlite_version}
    try:
        import psycopg

        with psycopg.connect(postgres_url, connect_timeout=3) as conn:
            versions["PostgreSQL"] = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as exc:
        versions["PostgreSQL"] = f"not reachable ({type(exc).__name__})"
    try:
        import redis

        versions["Redis"] = redis.Redis.from_url(redis_url, socket_connect_timeout=3).info("server")["redis_version"]
    except Exception as exc:
        versions["Redis"] = f"not reachable ({type(exc).__name__})"
    return versions


def machine(postgres_url, redis_url):
    memory_kb = first_line("/proc/meminfo", "MemTotal").split()[0]
    packages = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in ("Django", "celery", "gunicorn"))
    services = ", ".join(f"{name} {version}" for name, version in service_versions(postgres_url, redis_url).items())
    wrk = command_output("wrk", "--version") if shutil.which("wrk") else "not installed"
    commit = command_output("git", "describe", "--always", "--dirty")
    return [
        f"- CPU: {first_line('/proc/cpuinfo', 'model name')}, {os.cpu_count()} cores; RAM: "
        f"{int(memory_kb) / 2**20:.1f} GiB"
        if memory_kb.isdigit()
        else f"- CPU: {os.cpu_count()} cores",
        f"- OS: {first_line('/etc/os-release', 'PRETTY_NAME=')}, kernel {platform.release()}",
        f"- Python {platform.python_version()}; {packages}",
        f"- {services}; {wrk.split(' [')[0]}",
        f"- Code: commit {commit}",
    ]


def header(reports, note, postgres_url, redis_url):
    runs = [report["run"] for report in reports.values()]
    lines = ["# Benchmark results", ""]
    quick = [name for name, report in reports.items() if report["run"].get("quick")]
    if quick:
        names = ", ".join(name.removesuffix(".json") for name in quick)
        lines += [f"> **SMOKE RUN** (--quick: {names}): small counts, short phases; it shows that the scripts work.",
                  "> These are not figures to compare.", ">"]  # fmt: skip
    if note:
        lines += [f"> {note}", ">"]
    lines = [*lines[:-1], ""] if lines[-1] == ">" else lines
    dates = sorted(run["date"] for run in runs)
    if dates:
        lines.append(f"Run from {dates[0]} to about {dates[-1]} (UTC, start of each benchmark), `make bench`.")
    loads = "; ".join(f"{name.removesuffix('.json')} {report['run']['load_average'][0]}"
                      for name, report in reports.items() if "load_average" in report["run"])  # fmt: skip
    if loads:
        lines.append(f"1-minute load average when each started (the machine has {os.cpu_count()} cores): {loads}.")
    return [*lines, "", "## Machine", "", *machine(postgres_url, redis_url), ""]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where the benchmarks wrote receiver.json, forwarding.json, ...")
    parser.add_argument("--note", default="", help="a line for the header, e.g. that the machine was busy")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES, help="for the PostgreSQL version")
    parser.add_argument("--redis-url", default=REDIS, help="for the Redis version")
    args = parser.parse_args(argv)
    reports, missing = {}, []
    for name, script in SECTIONS:
        path = args.folder / name
        if path.exists():
            reports[name] = json.loads(path.read_text())
        else:
            missing.append(f"## {script}\n\nNo results: the benchmark did not finish (see its output).\n")
    body = [report["markdown"] for report in reports.values()] + missing
    lines = header(reports, args.note, args.postgres_url, args.redis_url) + targets.markdown(reports) + body
    print("\n".join(lines).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
