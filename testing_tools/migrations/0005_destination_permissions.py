"""Support and integrations see the destinations too: the view permissions of the models the partners' move to
destinations made (partners 0018), which the groups made before them could not hold."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

NEW = ["view_destination", "view_networkpostback", "view_destinationhealth"]


def grant(apps, schema_editor):
    # As in 0003: the permissions of new models exist only after post_migrate, unless made here.
    create_permissions(
        global_apps.get_app_config("partners"), verbosity=0, using=schema_editor.connection.alias, apps=apps
    )
    Permission = apps.get_model("auth", "Permission")
    views = list(Permission.objects.filter(content_type__app_label="partners", codename__in=NEW))
    for group in apps.get_model("auth", "Group").objects.filter(name__in=["support", "integrations"]):
        group.permissions.add(*views)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    views = list(Permission.objects.filter(content_type__app_label="partners", codename__in=NEW))
    for group in apps.get_model("auth", "Group").objects.filter(name__in=["support", "integrations"]):
        group.permissions.remove(*views)


class Migration(migrations.Migration):
    dependencies = [("testing_tools", "0004_attempt_error_codes"), ("partners", "0018_destinations")]

    operations = [migrations.RunPython(grant, revoke)]
