"""Write transactions that queue for SQLite's one writer in the kernel, not in SQLite's sleeping busy handler."""

import fcntl
import os
import threading
from contextlib import contextmanager

from django.db import connection, transaction

_threads = threading.Lock()
_holder = threading.local()
_lock_files = {}


@contextmanager
def write_transaction():
    """transaction.atomic(); on SQLite, entered by one writer of all processes at a time.

    A writer that finds SQLite's write lock taken waits in its busy handler, which sleeps in steps of
    up to 100 ms however soon the lock is free: under load most of the time goes to sleeping. Queued
    on a lock file beside the database (and on a lock among this process's threads), the next writer
    gets the lock the moment the last one commits. Inside an enclosing transaction the write lock is
    already held (IMMEDIATE), and in work done on commit (an eager task, say) the lock is this thread's
    still, so there is nothing to queue for. Other databases lock rows: plain atomic().
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block or getattr(_holder, "holds", False):
        with transaction.atomic():
            yield
        return
    with _threads, _file_lock(str(connection.settings_dict["NAME"])):
        _holder.holds = True
        try:
            with transaction.atomic():
                yield
        finally:
            _holder.holds = False


@contextmanager
def _file_lock(database):
    if database.startswith((":memory:", "file:")):
        yield
        return
    # One open file per process: a descriptor inherited over fork would share its lock with the parent.
    key = (os.getpid(), database)
    lock_file = _lock_files.get(key)
    if lock_file is None:
        lock_file = _lock_files[key] = open(f"{database}.writer-lock", "a")  # noqa: SIM115 (kept open)
    fcntl.flock(lock_file, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(lock_file, fcntl.LOCK_UN)
