"""App config for the upstream side."""

import time

from django.apps import AppConfig


class ReceiverConfig(AppConfig):
    name = "receiver"
    verbose_name = "Receiver (networks, clicks, postbacks, conversions)"

    def ready(self):
        # The health check reports uptime from here: the moment this process loaded Django.
        self.started = time.monotonic()

        from django.db.models.signals import post_delete, post_save

        from . import alerts, config
        from .models import Network, Offer

        alerts.register()
        # Networks are read from each process's copy; an offer's deletion also drops it from partners' filters.
        post_save.connect(config.changed, sender=Network, dispatch_uid="config.save.Network")
        for model in (Network, Offer):
            post_delete.connect(config.changed, sender=model, dispatch_uid=f"config.delete.{model.__name__}")
