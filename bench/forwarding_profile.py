"""The forwarding benchmark's profile: where the drainer's time goes, per delivery, from a cProfile dump.

bench/forwarding.py profiles partners.drainer.drain() in a Django process of its own (no Celery: a drain task is
this call) and reads the dump here (`profile_summary`); this module needs no Django.
"""

import pstats
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LOCK = ("partners/drainer.py", "_lock_batch")
RECORD = ("partners/delivery.py", "record_all")
DRAIN = ("partners/drainer.py", "drain")
# (label, file, function, only its calls from this file and function); files are path suffixes. The first is the
# whole. cProfile sees the drainer's own thread: the HTTP requests run in its pool's threads, which it waits for.
PROFILE_PARTS = [
    ("drain(): the drainer's thread", "partners/drainer.py", "drain", None),
    ("  lock_batch(): lock due deliveries, in turn with other drainers", "partners/drainer.py", "lock_batch", None),
    ("    sending_terms(): the process's copy (one token read)", "partners/routing.py", "sending_terms", LOCK),
    ("    breaker.health(): breakers and streaks", "partners/breaker.py", "health", LOCK),
    ("    SELECT: in flight per partner", "partners/drainer.py", "_in_flight", None),
    ("    SELECT: candidates, in order per conversion", "partners/drainer.py", "_candidates", None),
    ("    _fair_share(): round robin", "partners/drainer.py", "_fair_share", None),
    ("    UPDATE: lock, with a lease", "partners/drainer.py", "_lock", None),
    ("    SELECT: the locked rows, with event, conversion, offer", "partners/locked.py", "locked", LOCK),
    ("  prepare_all(): macro values, render", "partners/delivery.py", "prepare_all", None),
    ("  pool.submit(): to a sender thread", "concurrent/futures/thread.py", "submit", DRAIN),
    ("  wait(): for a send to finish (idle)", "concurrent/futures/_base.py", "wait", DRAIN),
    ("  record_all(): record in one transaction", "partners/delivery.py", "record_all", None),
    ("    UPDATE ... RETURNING: the states, where the lease holds", "partners/delivery.py", "_record_states", None),
    ("    INSERT attempts: one statement, many rows", "partners/delivery.py", "_insert_attempts", None),
    ("    health: failing streaks and breakers, when they change", "partners/breaker.py", "record", RECORD),
    ("    logger.info(): one line per delivery", "logging/__init__.py", "info", RECORD),
    (
        "  COMMITs: the lock's and the record's",
        "django/db/transaction.py",
        "__exit__",
        ("postbacks_project/db.py", "write_transaction"),
    ),
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
    """Per delivery: where the drainer's time goes (ms, share of its time per delivery) and the top functions."""
    stats = pstats.Stats(str(path))
    parts = []
    for label, file, function, caller in PROFILE_PARTS:
        calls, cumulative = profile_entry(stats, file, function, caller)
        parts.append({"part": label, "calls": round(calls / count, 3), "ms": cumulative / count * 1000})
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
