"""App config for the upstream side."""

import time

from django.apps import AppConfig


class ReceiverConfig(AppConfig):
    name = "receiver"
    verbose_name = "Receiver (networks, clicks, postbacks, conversions)"

    def ready(self):
        # The health check reports uptime from here: the moment this process loaded Django.
        self.started = time.monotonic()
