"""App config for the partner portal: partners' own users, their postback settings and their deliveries."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "partners.portal"
    label = "portal"
    verbose_name = "Partner portal"
