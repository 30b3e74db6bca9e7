"""App config for the operator's alerts: conditions checked by beat, a notice when each starts and clears."""

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self):
        from partners import signing

        # A bad secret is an error at start, not a notice that cannot be signed in the middle of an outage.
        if settings.ALERT_WEBHOOK_SECRET:
            try:
                signing.secret_bytes(settings.ALERT_WEBHOOK_SECRET)
            except ValueError as exc:
                raise ImproperlyConfigured(f"ALERT_WEBHOOK_SECRET: {exc}") from None
