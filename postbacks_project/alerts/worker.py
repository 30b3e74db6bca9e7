"""The worker's own alerts: the database or the broker unreachable from this worker process.

Beat's checks cannot see these (they run in a worker, and store their alerts in the database), so each worker
process runs a watch on a thread of its own. Its state lives in the process: the notice goes out by the channels
straight away (email needs no database), and the Alert row is written once the database answers again, so an outage
of the database is recorded with its opening and its clearing together. One alert per worker (its key names the
worker), opened once the dependency has failed every check for ALERT_WORKER_UNREACHABLE_SECONDS and closed at the
first check it answers.
"""

import logging
import threading

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from postbacks_project import dependencies

from . import notify
from .models import Alert

logger = logging.getLogger(__name__)

DATABASE_UNREACHABLE = "database_unreachable"
BROKER_UNREACHABLE = "broker_unreachable"
PROBES = {
    DATABASE_UNREACHABLE: ("the database", dependencies.check_database),
    BROKER_UNREACHABLE: ("the broker", dependencies.check_broker),
}


class Watch:
    def __init__(self, hostname, threshold, probes=PROBES):
        self.key = f"worker:{hostname}"[:60]
        self.threshold = threshold
        self.probes = probes
        self.failing_since = {}
        self.open = {}
        # Alerts opened or closed since the database last took a write, by (kind, opened_at).
        self.unrecorded = {}

    def check(self, now=None):
        """Probe each dependency once; returns the (event, alert) pairs notified."""
        now = now or timezone.now()
        changes = []
        for kind, (what, probe) in self.probes.items():
            answer = probe()
            if answer["ok"]:
                self.failing_since.pop(kind, None)
                alert = self.open.pop(kind, None)
                if alert is not None:
                    alert.closed_at = now
                    changes.append(("closed", alert))
                continue
            since = self.failing_since.setdefault(kind, now)
            if kind not in self.open and (now - since).total_seconds() >= self.threshold:
                message = f"{self.key} cannot reach {what}: {answer['error']}"
                self.open[kind] = alert = Alert(kind=kind, key=self.key, opened_at=since, last_message=message)
                changes.append(("opened", alert))
        for event, alert in changes:
            logger.warning("alert %s: %s %s: %s", event, alert.kind, alert.key, alert.last_message)
            notify.send(event, alert)
            self.unrecorded[alert.kind, alert.opened_at] = alert
        if DATABASE_UNREACHABLE not in self.open:
            self.record()
        return changes

    def record(self):
        """Write what changed while the database was away; what fails to write waits for the next check."""
        for ident, alert in list(self.unrecorded.items()):
            try:
                with transaction.atomic():
                    if alert.pk is None:
                        # An alert this worker's previous process left open: its watcher is this process now.
                        Alert.objects.filter(kind=alert.kind, key=alert.key, closed_at=None).update(
                            closed_at=alert.opened_at
                        )
                    alert.save()
            except DatabaseError as exc:
                logger.warning("alert %s %s: not recorded yet: %s", alert.kind, alert.key, exc)
                return
            del self.unrecorded[ident]


class Heartbeat(threading.Thread):
    def __init__(self, watch, every):
        super().__init__(name="alerts-watch", daemon=True)
        self.watch = watch
        self.every = every
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(self.every):
            try:
                self.watch.check()
            except Exception:
                logger.exception("the worker's watch failed")
            finally:
                # This thread's own connection: not held between checks, and a broken one not kept.
                connections.close_all()


_heartbeat = None


def start(hostname):
    """Called when a worker is ready (postbacks_project/celery.py); ALERT_WORKER_CHECK_EVERY 0 turns the watch off."""
    global _heartbeat
    if settings.ALERT_WORKER_CHECK_EVERY <= 0 or _heartbeat is not None:
        return
    watch = Watch(hostname, settings.ALERT_WORKER_UNREACHABLE_SECONDS)
    _heartbeat = Heartbeat(watch, settings.ALERT_WORKER_CHECK_EVERY)
    _heartbeat.start()


def stop():
    global _heartbeat
    if _heartbeat is not None:
        _heartbeat.stopped.set()
        _heartbeat.join(timeout=5)
        _heartbeat = None
