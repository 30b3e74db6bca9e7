"""App config for the test-postback tool."""

from django.apps import AppConfig


class TestingToolsConfig(AppConfig):
    name = "testing_tools"
    verbose_name = "Testing tools"

    def ready(self):
        from partners.admin import partner_page

        from .admin import send_test_postback

        partner_page.add(actions=[send_test_postback])
