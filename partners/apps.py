"""App config for the downstream side; connects forwarding to the receiver's hand-over signal."""

from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partners (downstream forwarding)"

    def ready(self):
        from receiver.signals import conversion_event_committed

        from .forwarding import forward_event

        conversion_event_committed.connect(forward_event, dispatch_uid="partners.forward_event")
