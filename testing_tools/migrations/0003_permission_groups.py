"""The groups an admin gives staff: support reads everything, integrations also edits partners and sends."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

APPS = ("receiver", "partners", "testing_tools")
INTEGRATIONS_EXTRA = [
    "partners.add_partner",
    "partners.change_partner",
    "partners.add_offershare",
    "partners.change_offershare",
    "partners.resend_delivery",
    "testing_tools.send_test_postback",
]


def _permissions(Permission, names):
    pairs = [name.split(".") for name in names]
    return [Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in pairs]


def add_groups(apps, schema_editor):
    # Django creates permissions after the last migration (post_migrate): on a fresh database they are not there yet.
    # The installed config, because create_permissions skips the historical one (it has no models module); the
    # models it reads and the rows it writes are still the historical ones.
    using = schema_editor.connection.alias
    for label in APPS:
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    # Every view permission of the apps, partners.view_dashboard included.
    support = list(Permission.objects.filter(content_type__app_label__in=APPS, codename__startswith="view_"))
    Group.objects.get_or_create(name="support")[0].permissions.set(support)
    integrations = support + _permissions(Permission, INTEGRATIONS_EXTRA)
    Group.objects.get_or_create(name="integrations")[0].permissions.set(integrations)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["support", "integrations"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("receiver", "0004_configversion"),
        ("partners", "0005_delivery_permissions"),
        ("testing_tools", "0002_testpostback_permissions"),
    ]

    operations = [migrations.RunPython(add_groups, remove_groups)]
