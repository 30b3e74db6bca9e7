"""The Celery application: configured from Django settings (CELERY_*), tasks found in each app."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postbacks_project.settings")

# filesystem:// (the embedded broker) means our atomic-publishing variant of kombu's transport, in every process;
# redis:// one whose worker survives losing Redis with tasks in flight (postbacks_project/broker.py).
TRANSPORT_ALIASES["filesystem"] = "postbacks_project.broker:Transport"
TRANSPORT_ALIASES["redis"] = TRANSPORT_ALIASES["rediss"] = "postbacks_project.broker:RedisTransport"

app = Celery("postbacks_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _drop_stale_connections(task=None, **kwargs):
    # Connections are reused across tasks (CELERY_DB_REUSE_MAX); this keeps CONN_MAX_AGE and the
    # health checks in force, as Django's request cycle does for the web process. A task run in the
    # caller's process (eager) shares the caller's connection, which is not ours to close.
    if task is not None and task.request.is_eager:
        return
    from django.db import close_old_connections

    close_old_connections()
