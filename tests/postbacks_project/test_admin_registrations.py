"""Admin registrations: each app registers its own models once, and adds to another's page only by its extensions."""

import subprocess
import sys
from pathlib import Path

from django.apps import apps
from django.contrib import admin

from partners.admin_claims import NotReportedFilter, OutgoingPostbackInline, report_to_network
from receiver.admin import ConversionAdmin, NetworkAdmin
from testing_tools.admin import send_test_postback

ROOT = Path(__file__).resolve().parents[2]
# Django starts with unregister() refusing: any admin module that takes back another's registration fails to load.
STRICT_SETUP = """
import django
from django.contrib.admin.sites import AdminSite

def refuse(self, model_or_iterable):
    raise AssertionError(f"admin unregister of {model_or_iterable!r}")

AdminSite.unregister = refuse
django.setup()
from django.apps import apps
from django.contrib import admin
names = [("receiver", "Conversion"), ("receiver", "Network"), ("partners", "Partner")]
print(all(admin.site.is_registered(apps.get_model(*name)) for name in names))
"""


def test_the_admin_loads_with_unregister_refused():
    result = subprocess.run(
        [sys.executable, "-c", STRICT_SETUP],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "postbacks_project.settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_each_model_admin_comes_from_the_models_own_app():
    for model, model_admin in admin.site._registry.items():
        owner = apps.get_containing_app_config(type(model_admin).__module__)
        assert owner == model._meta.app_config, f"{model.__name__} is registered by {type(model_admin).__module__}"


def test_the_conversion_and_network_pages_are_the_receivers_with_the_partners_additions(rf, admin_user):
    request = rf.get("/admin/receiver/conversion/")
    request.user = admin_user
    conversions = admin.site.get_model_admin(apps.get_model("receiver", "Conversion"))
    networks = admin.site.get_model_admin(apps.get_model("receiver", "Network"))

    assert type(conversions) is ConversionAdmin
    assert type(networks) is NetworkAdmin
    assert NotReportedFilter in conversions.get_list_filter(request)
    assert "report_to_network" in conversions.get_actions(request)
    assert OutgoingPostbackInline in networks.get_inlines(request, None)
    assert report_to_network not in (conversions.actions or [])


def test_the_partner_list_offers_the_test_tools_action(rf, admin_user):
    request = rf.get("/admin/partners/partner/")
    request.user = admin_user
    partners = admin.site.get_model_admin(apps.get_model("partners", "Partner"))

    assert partners.get_actions(request)["send_test_postback"][0] is send_test_postback
    assert send_test_postback not in partners.actions


def test_no_app_module_reaches_into_the_admin_registry():
    ours = [Path(app.path) for app in apps.get_app_configs() if Path(app.path).is_relative_to(ROOT)]
    sources = [path for folder in ours if not folder.is_relative_to(ROOT / ".venv") for path in folder.rglob("*.py")]

    offenders = [str(path) for path in sources if "_registry" in path.read_text() or ".unregister(" in path.read_text()]

    assert sources
    assert offenders == []
