"""Is the database answering, can we reach the Celery broker: one try each, the answer as data, never an exception.

The health page (receiver/health.py) and each worker's watch (postbacks_project/alerts/worker.py) ask the same way.
"""

from django.db import DatabaseError, connection

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
