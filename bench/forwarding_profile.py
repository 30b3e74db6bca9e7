"""The forwarding benchmark's profile: cProfile in a solo worker, and where a delivery's time goes.

bench/forwarding.py switches the profiler on in the worker (`profile_tasks`) and reads the dump
(`profile_summary`); this module needs no Django.
"""

import pstats
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def profile_tasks(signals, path, after):
    """cProfile the worker's main thread from the end of task number `after` until shutdown (solo pool)."""
    import cProfile

    profiler, finished = cProfile.Profile(), [0]

    def count(**kwargs):
        finished[0] += 1
        if finished[0] == after:
            profiler.enable()

    def dump(**kwargs):
        profiler.disable()
        profiler.dump_stats(path)

    signals.task_postrun.connect(count, weak=False)
    signals.worker_shutting_down.connect(dump, weak=False)


# (label, file, function, only its calls from this file and function); files are path suffixes.
PROFILE_PARTS = [
    ("Celery's task trace: the task, signals, ack", "celery/app/trace.py", "trace_task", None),
    ("  Django fixup: close all DB connections, before and after", "celery/fixups/django.py", "close_database", None),
    ("  attempt()", "partners/delivery.py", "attempt", None),
    ("    claim(): conditional UPDATE", "partners/delivery.py", "claim", None),
    ("    load: SELECT with 2 joins", "django/db/models/query.py", "get", ("partners/delivery.py", "attempt")),
    ("    sending_terms(): the process's copy (one token SELECT)", "partners/routing.py", "sending_terms", None),
    ("    event_share(): the share (terms from the copy)", "partners/macros.py", "event_share", None),
    ("    event_values(): macro values", "partners/macros.py", "event_values", None),
    ("    build_request(): render", "partners/outbound.py", "build_request", None),
    ("    transport.send(): HTTP", "partners/transport.py", "send", None),
    ("    _record()", "partners/delivery.py", "_record", None),
    ("      INSERT attempt", "django/db/models/query.py", "create", None),
    (
        "      UPDATE delivery, UPDATE partner",
        "django/db/models/query.py",
        "update",
        ("partners/delivery.py", "_record"),
    ),
    ("      COMMIT", "django/db/transaction.py", "__exit__", ("postbacks_project/db.py", "write_transaction")),
    ("    logger.info(): one log line", "logging/__init__.py", "info", ("partners/delivery.py", "attempt")),
    ("in all of the above: opening a DB connection", "django/db/backends/base/base.py", "connect", None),
    ("in all of the above: SQL, Django's execute()", "django/db/backends/utils.py", "_execute", None),
]
# Waiting, not working: the consumer's idle polls and sleeps, lock waits.
IDLE = re.compile(r"time\.sleep|select\.(?:epoll|poll|select)|_thread\.lock|\((?:wait|_poll|poll|select)\)$")


def profile_entry(stats, file, function, caller):
    """(calls, cumulative seconds) of a function, or of its calls from `caller` (file, function) only."""
    calls = cumulative = 0
    for (path, _, name), (_, n, _, ct, callers) in stats.stats.items():
        if name != function or not path.endswith(file):
            continue
        if caller is None:
            calls, cumulative = calls + n, cumulative + ct
            continue
        for (caller_path, _, caller_name), (_, from_calls, _, from_cumulative) in callers.items():
            if caller_name == caller[1] and caller_path.endswith(caller[0]):
                calls, cumulative = calls + from_calls, cumulative + from_cumulative
    return calls, cumulative


def profile_summary(path, count, per_delivery_ms):
    """Per delivery: where the solo worker's time goes (ms, share of its time per delivery) and the top functions."""
    stats = pstats.Stats(str(path))
    parts = []
    for label, file, function, caller in PROFILE_PARTS:
        calls, cumulative = profile_entry(stats, file, function, caller)
        parts.append({"part": label, "calls": round(calls / count, 2), "ms": cumulative / count * 1000})
    # What the task trace does not cover: taking messages from the broker, the consumer loop, idle polls.
    parts.insert(0, {"part": "outside the task: broker, consumer loop", "ms": per_delivery_ms - parts[0]["ms"]})
    for part in parts:
        part["share_pct"] = round(part["ms"] / per_delivery_ms * 100, 1)
        part["ms"] = round(part["ms"], 3)
    return {
        "deliveries": count,
        "ms_per_delivery": round(per_delivery_ms, 3),
        "parts": parts,
        "top_own_time": top_functions(stats, 2, count),
    }


def top_functions(stats, column, count, limit=20):
    """The heaviest functions by own time (column 2) or cumulative time (3), in ms per delivery; idle waits left out."""
    rows = []
    for (path, line, name), entry in sorted(stats.stats.items(), key=lambda item: -item[1][column]):
        where = f"{short_path(path)}:{line}({name})"
        if not IDLE.search(where):
            rows.append({"function": where, "calls": entry[1], "ms": round(entry[column] / count * 1000, 3)})
        if len(rows) == limit:
            break
    return rows


def short_path(path):
    for marker in ("site-packages/", "python3.11/", str(ROOT) + "/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path
