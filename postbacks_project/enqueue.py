"""The one door to the broker: a task queued once the caller's transaction commits, whose loss a sweep makes good.

A broker that is down is logged and leaves the work to the beat-scheduled sweeps (the rows are due in the
database), so no caller ever fails after its commit. A countdown longer than DELIVERY_COUNTDOWN_LIMIT is not
held in the broker at all (Redis would redeliver a task kept past its visibility timeout): the sweep queues the
work when it is due.

A wake-up (a task without arguments that does whatever is waiting, like the drainer) is queued once per burst:
beside the broker a marker says a copy is queued and not started yet, and commits meanwhile publish nothing.
"""

import logging
import os
import time
from functools import lru_cache
from pathlib import Path

import redis
from celery import current_app
from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)
# A marker older than this counts as gone: its copy was lost (a worker killed holding it) or is stuck behind a long
# queue, and one more copy costs a message at most.
WAKE_MARKER_SECONDS = 30


def enqueue_after_commit(task, *args, countdown=None, task_id=None):
    """Queue `task(*args)` after the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: enqueue(task, *args, countdown=countdown, task_id=task_id))


def enqueue(task, *args, countdown=None, task_id=None):
    """Queue `task(*args)` now; False when it was left to the sweep (a long countdown, or the broker is down)."""
    if countdown is not None and countdown > settings.DELIVERY_COUNTDOWN_LIMIT:
        return False
    options = {"retry": False}
    if countdown is not None:
        options["countdown"] = max(0.0, countdown)
    if task_id:
        options["task_id"] = task_id
    try:
        task.apply_async(args, **options)
    except (OperationalError, OSError) as exc:
        logger.warning("%s%r not queued (%s); the sweep will do its work", task.name, args, exc)
        return False
    return True


def wake_after_commit(task):
    """Queue the wake-up `task()` after commit, unless a copy is queued and has not started yet.

    The task calls `woken(task)` first thing, before it reads the work it was woken for: a commit before that is
    seen by the copy queued; a commit after it finds no marker and queues a new copy. So no commit's work waits for
    the sweep, and a burst of commits costs one publish instead of one each. A broker with no marker here (neither
    the filesystem one nor Redis) gets a publish each time.
    """
    transaction.on_commit(lambda: _wake(task))


def woken(task):
    """Called by the wake-up task as it starts: the next commit queues a new copy."""
    marker = _marker()
    try:
        if marker is not None:
            marker.clear(task.name)
    except (OSError, redis.RedisError) as exc:
        logger.warning("%s: its queued marker could not be cleared (%s); it expires by itself", task.name, exc)


def _wake(task):
    marker = _marker()
    try:
        if marker is not None and not marker.set(task.name):
            return
    except (OSError, redis.RedisError):
        marker = None  # the broker beside it is likely down too: the publish says so in the log
    if not enqueue(task) and marker is not None:
        woken(task)  # not queued: the next commit tries again, and the sweep meanwhile


def _marker():
    url = current_app.conf.broker_url or ""
    if url.startswith("filesystem://"):
        return _FileMarker(Path(current_app.conf.broker_transport_options["data_folder_in"]).parent)
    if url.startswith(("redis://", "rediss://")):
        return _RedisMarker(_redis(url))
    return None


@lru_cache(maxsize=4)
def _redis(url):
    timeout = settings.CELERY_BROKER_CONNECTION_TIMEOUT
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


class _FileMarker:
    """A file in the broker's folder: created exclusively (atomic), removed as the copy starts."""

    def __init__(self, folder):
        self.folder = folder

    def set(self, name):
        path = self.folder / f"queued-{name}"
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            if time.time() - path.stat().st_mtime < WAKE_MARKER_SECONDS:
                return False
            os.utime(path)  # two processes may both find it expired: one message more, nothing missed
        return True

    def clear(self, name):
        (self.folder / f"queued-{name}").unlink(missing_ok=True)


class _RedisMarker:
    """A key in the broker's Redis, set only if absent, with the marker's lifetime."""

    def __init__(self, client):
        self.client = client

    def set(self, name):
        return bool(self.client.set(f"postbacks:queued:{name}", 1, nx=True, ex=WAKE_MARKER_SECONDS))

    def clear(self, name):
        self.client.delete(f"postbacks:queued:{name}")
