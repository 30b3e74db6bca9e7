"""App config for the downstream side; connects forwarding to the receiver's hand-over signal."""

from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partners (downstream forwarding)"

    def ready(self):
        from receiver.signals import conversion_event_created

        from .forwarding import create_deliveries

        conversion_event_created.connect(create_deliveries, dispatch_uid="partners.create_deliveries")
