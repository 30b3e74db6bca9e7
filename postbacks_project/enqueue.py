"""The one door to the broker: a task queued once the caller's transaction commits, whose loss a sweep makes good.

A broker that is down is logged and leaves the work to the beat-scheduled sweeps (the rows are due in the
database), so no caller ever fails after its commit. A countdown longer than DELIVERY_COUNTDOWN_LIMIT is not
held in the broker at all (Redis would redeliver a task kept past its visibility timeout): the sweep queues the
work when it is due.
"""

import logging

from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


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
