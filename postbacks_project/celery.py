"""The Celery application: configured from Django settings (CELERY_*), tasks found in each app."""

import os

from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_postrun,
    task_prerun,
    worker_ready,
    worker_shutdown,
)
from kombu.transport import TRANSPORT_ALIASES

from postbacks_project.masking import MaskSecretsFilter

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


@after_setup_logger.connect
@after_setup_task_logger.connect
def _mask_secrets_in_worker_logs(logger=None, **kwargs):
    # A worker replaces the root logger's handlers, and with them Django's masking one (worker_hijack_root_logger):
    # its own handlers get the same filter, so a worker's logs mask keys and secret URL parameters too.
    for handler in logger.handlers:
        if not any(isinstance(existing, MaskSecretsFilter) for existing in handler.filters):
            handler.addFilter(MaskSecretsFilter())


@worker_ready.connect
def _watch_dependencies(sender=None, **kwargs):
    # The database or the broker unreachable from this worker is an alert only the worker itself can raise.
    from postbacks_project.alerts import worker

    worker.start(sender.hostname)


@worker_shutdown.connect
def _stop_watching(**kwargs):
    from postbacks_project.alerts import worker

    worker.stop()
