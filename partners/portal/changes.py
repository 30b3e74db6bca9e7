"""Applying a partner user's settings change: the partner's fields and one ChangeRecord per field, together."""

from django.db import transaction

from partners.models import Partner

from .models import ChangeRecord


def apply_settings(partner, values, user):
    """Set `values` ({field: value}) on the partner; return the ChangeRecords of the fields that changed."""
    with transaction.atomic():
        # Locked, so the old values recorded are the ones this change replaced, not a concurrent admin's.
        current = Partner.objects.select_for_update().get(pk=partner.pk)
        records = [
            ChangeRecord(partner=current, user=user, field=name, old_value=getattr(current, name), new_value=value)
            for name, value in values.items()
            if getattr(current, name) != value
        ]
        if not records:
            return []
        for record in records:
            setattr(current, record.field, record.new_value)
        # update_fields: only what the partner may change is written, whatever else the loaded copy holds.
        current.save(update_fields=[record.field for record in records])
        ChangeRecord.objects.bulk_create(records)
    return records
