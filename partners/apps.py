"""App config for the downstream side; connects forwarding to the receiver's hand-over signals."""

from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partners (downstream forwarding)"

    def ready(self):
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from receiver import config
        from receiver.signals import conversion_event_created, conversion_priced

        from . import alerts
        from .admin_hooks import extend_receiver_pages
        from .forwarding import event_created, release_deliveries
        from .models import Destination, NetworkPostback, OfferShare, Partner

        alerts.register()
        conversion_event_created.connect(event_created, dispatch_uid="partners.event_created")
        conversion_priced.connect(release_deliveries, dispatch_uid="partners.release_deliveries")
        # Routing is read from each process's copy: every change to it must say so (receiver.config).
        # So are the destinations' settings and offer shares, when a delivery is attempted. A save sends its signal
        # for the instance's own class only, not for the destination it extends.
        for model in (Destination, Partner, NetworkPostback, OfferShare):
            post_save.connect(config.changed, sender=model, dispatch_uid=f"config.save.{model.__name__}")
            post_delete.connect(config.changed, sender=model, dispatch_uid=f"config.delete.{model.__name__}")
        for through in (Partner.networks.through, Partner.offers.through):
            m2m_changed.connect(config.changed, sender=through, dispatch_uid=f"config.m2m.{through.__name__}")
        extend_receiver_pages()
