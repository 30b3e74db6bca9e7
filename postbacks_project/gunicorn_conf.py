"""gunicorn settings: bounded requests, an access log masked like Django's logs, dead workers' metrics tidied."""

import os

# In production a buffering reverse proxy stands in front (docs/operations.md): it holds slow clients, so that
# gunicorn's threads see only whole requests. Without one these bound what a client can hold: a request line
# long enough for a postback's query (the most gunicorn allows), 100 headers of up to 8 KB, idle kept-alive
# connections closed after 5 s; a request body gets WEB_BODY_TIMEOUT seconds (postbacks_project/wsgi.py).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
keepalive = 5
timeout = 30
graceful_timeout = 30

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_keys": {"()": "postbacks_project.masking.MaskSecretsFilter"}},
    "formatters": {"access": {"format": "%(message)s"}, "plain": {"format": "%(asctime)s %(levelname)s %(message)s"}},
    "handlers": {
        "access": {"class": "logging.StreamHandler", "formatter": "access", "filters": ["mask_keys"]},
        "error": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_keys"]},
    },
    "root": {"handlers": ["error"], "level": "INFO"},
    "loggers": {
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        "gunicorn.error": {"handlers": ["error"], "level": "INFO", "propagate": False},
    },
}


def child_exit(server, worker):
    """prometheus_client's multiprocess bookkeeping for a dead worker: its live gauges leave the sums, its counters
    stay (they keep counting what it did). Imported here, once settings have set PROMETHEUS_MULTIPROC_DIR, since
    prometheus_client reads it at import and the master loads no Django code otherwise."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postbacks_project.settings")
    from django.conf import settings
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(settings.METRICS_DIR))
