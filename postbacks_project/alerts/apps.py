"""App config for the operator's alerts: kinds the apps register, checked by beat, a notice when each starts and clears.

Its label is "alerts", which names its migrations and its table.
"""

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "postbacks_project.alerts"
    label = "alerts"
    verbose_name = "Alerts"
