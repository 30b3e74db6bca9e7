"""The project's settings with django-unfold in front of the admin, for the comparison only (never the hub's own)."""

import importlib.util

from django.core.exceptions import ImproperlyConfigured

from postbacks_project.settings import *  # noqa: F403

if importlib.util.find_spec("unfold") is None:
    raise ImproperlyConfigured(
        "django-unfold is not installed; for this comparison only: .venv/bin/pip install django-unfold "
        "(into the virtualenv, never requirements.txt)"
    )

# unfold's app config swaps admin.site for its UnfoldAdminSite, so it goes before django.contrib.admin; the last app
# rebases every registered ModelAdmin on unfold's, as adopting it would.
INSTALLED_APPS = ["unfold", *INSTALLED_APPS, "tools.admin_theme.adopt.AdoptConfig"]  # noqa: F405
# unfold's login form posts no `next`: without this, a login at /admin/login/ lands on /accounts/profile/, a 404.
LOGIN_REDIRECT_URL = "/admin/"
UNFOLD = {"SITE_HEADER": "Postback hub", "SITE_TITLE": "Postback hub"}
