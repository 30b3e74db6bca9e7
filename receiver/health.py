"""Health report: is the database answering, can we reach the Celery broker."""

import time

from django.apps import apps
from django.db import DatabaseError, connection
from django.utils import timezone

from postbacks_project.celery import app as celery_app


def check_database():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {"ok": False, "error": str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor}


def check_broker():
    try:
        with celery_app.connection_for_write() as conn:
            # One try: a refused connection is the answer, and a retry made the check wait 2 s while Redis was down.
            conn.ensure_connection(max_retries=0, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:  # kombu raises a different class per transport; all mean "unreachable"
        return {"ok": False, "error": (str(exc) or type(exc).__name__)[:200]}
    return {"ok": True, "transport": str(transport)}


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
