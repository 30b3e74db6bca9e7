"""Applying a partner user's settings change: at once, or held for an admin's approval when the partner says so;
either way the partner's fields and one ChangeRecord per field change together."""

import copy

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from partners.models import Partner
from partners.validation import validate_partner

from .models import ChangeRecord, PendingChange, Review


def request_settings(partner, values, user):
    """Apply `values` ({field: value}), or hold them for approval. (records applied, PendingChange or None)."""
    changed = {name: value for name, value in values.items() if getattr(partner, name) != value}
    if not changed:
        return [], None
    if not partner.portal_changes_need_approval:
        return apply_settings(partner, changed, user), None
    with transaction.atomic():
        # One change waits at a time: the latest is what the partner wants, the ones before it are superseded.
        PendingChange.objects.filter(partner=partner, review=Review.PENDING).update(
            review=Review.REJECTED, reviewed_at=timezone.now(), note="replaced by a later change"
        )
        pending = PendingChange.objects.create(
            partner=partner,
            user=user,
            old_values={name: getattr(partner, name) for name in changed},
            new_values=changed,
        )
    return [], pending


def apply_settings(partner, values, user, approved_by=None):
    """Set `values` ({field: value}) on the partner; return the ChangeRecords of the fields that changed."""
    with transaction.atomic():
        # Locked, so the old values recorded are the ones this change replaced, not a concurrent admin's.
        current = Partner.objects.select_for_update().get(pk=partner.pk)
        records = [
            ChangeRecord(
                partner=current,
                user=user,
                field=name,
                old_value=getattr(current, name),
                new_value=value,
                approved_by=approved_by,
            )
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


def review(pending, reviewer, approve, note=""):
    """Approve (apply, checked again: an address may have become blocked since) or reject a pending change.

    Returns "" when done as asked, else why it was rejected instead.
    """
    with transaction.atomic():
        pending = PendingChange.objects.select_for_update().get(pk=pending.pk)
        if pending.review != Review.PENDING:
            return f"already {pending.review}"
        problem = ""
        if approve:
            candidate = copy.copy(pending.partner)
            for name, value in pending.new_values.items():
                setattr(candidate, name, value)
            try:
                validate_partner(candidate)
            except ValidationError as exc:
                problem = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in exc.message_dict.items())
        if approve and not problem:
            apply_settings(pending.partner, pending.new_values, pending.user, approved_by=reviewer)
        pending.review = Review.APPROVED if approve and not problem else Review.REJECTED
        pending.reviewed_by, pending.reviewed_at = reviewer, timezone.now()
        pending.note = note or (f"no longer valid: {problem}" if problem else "")
        pending.save(update_fields=["review", "reviewed_by", "reviewed_at", "note"])
    return problem
