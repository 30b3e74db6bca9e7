"""App config for the test-postback tool."""

from django.apps import AppConfig


class TestingToolsConfig(AppConfig):
    name = "testing_tools"
    verbose_name = "Testing tools"
