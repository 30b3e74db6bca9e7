"""App config for the upstream side."""

from django.apps import AppConfig


class ReceiverConfig(AppConfig):
    name = "receiver"
    verbose_name = "Receiver (networks, clicks, postbacks, conversions)"
