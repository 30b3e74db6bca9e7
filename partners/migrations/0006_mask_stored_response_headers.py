"""Mask the partners' response headers (Set-Cookie, tokens) that attempts stored in clear before they were masked."""

from django.db import migrations

from postbacks_project.masking import mask_headers

BATCH = 1000


def mask_stored(apps, schema_editor):
    DeliveryAttempt = apps.get_model("partners", "DeliveryAttempt")
    changed = []
    for attempt in (
        DeliveryAttempt.objects.exclude(response_headers={}).only("id", "response_headers").iterator(chunk_size=BATCH)
    ):
        masked = mask_headers((attempt.response_headers or {}).items())
        if masked != attempt.response_headers:
            attempt.response_headers = masked
            changed.append(attempt)
        if len(changed) >= BATCH:
            DeliveryAttempt.objects.bulk_update(changed, ["response_headers"])
            changed = []
    DeliveryAttempt.objects.bulk_update(changed, ["response_headers"])


class Migration(migrations.Migration):
    dependencies = [("partners", "0005_delivery_permissions")]

    operations = [migrations.RunPython(mask_stored, migrations.RunPython.noop, elidable=True)]
