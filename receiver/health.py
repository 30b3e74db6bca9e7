"""Health report: is the database answering, can we reach the Celery broker."""

import time

from django.apps import apps
from django.utils import timezone

from postbacks_project.dependencies import check_broker, check_database


def report():
    checks = {"database": check_database(), "broker": check_broker()}
    healthy = all(check["ok"] for check in checks.values())
    return {
        "status": "healthy" if healthy else "unhealthy",
        "service": "postback",
        "timestamp": timezone.now().isoformat(),
        "uptime": round(time.monotonic() - apps.get_app_config("receiver").started, 1),
        "checks": checks,
    }
