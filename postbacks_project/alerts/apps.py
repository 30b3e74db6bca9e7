"""App config for the operator's alerts: kinds the apps register, checked by beat, a notice when each starts and clears.

Its label is "alerts", which names its migrations and its table.
"""

from django.apps import AppConfig

from . import registry


class AlertsConfig(AppConfig):
    name = "postbacks_project.alerts"
    label = "alerts"
    verbose_name = "Alerts"

    def ready(self):
        from .worker import BROKER_UNREACHABLE, DATABASE_UNREACHABLE

        # No condition for beat: each worker's watch opens and closes these (worker.py).
        registry.register(DATABASE_UNREACHABLE, "database unreachable from a worker")
        registry.register(BROKER_UNREACHABLE, "broker unreachable from a worker")
