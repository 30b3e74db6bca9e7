"""The receiver's Celery task: the daily prune that beat queues (postbacks_project.retention)."""

import logging

from celery import shared_task

from postbacks_project import retention

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def prune():
    """Delete what the RETAIN_*_DAYS settings let go; a run cut short leaves whole batches and is finished tomorrow."""
    for row in retention.prune():
        if row["rows"]:
            logger.info("prune: deleted %d rows of %s in %.1f s", row["rows"], row["table"], row["seconds"])
        for partition in row["dropped"]:
            logger.info("prune: dropped partition %s (%d rows)", partition["partition"], partition["rows"])
        for busy in row["busy"]:
            logger.warning("prune: could not %s partition %s, its lock was busy", busy["wanted"], busy["partition"])
