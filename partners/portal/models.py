"""Who may use the portal for which partner, the record of every change a partner user made there, and the partner
API's tokens."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from partners.models import Partner


class PartnerMembership(models.Model):
    """A user of the portal for one partner; a partner user is a non-staff user with at least one."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_memberships")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="portal_memberships")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["partner__name", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "partner"], name="one_membership_per_user_partner")]

    def __str__(self):
        return f"{self.user} for {self.partner}"


class PortalPartner(Partner):
    """A partner as the portal's admin page shows it: its users, an invitation, and what they changed."""

    class Meta:
        proxy = True
        verbose_name = "partner's portal access"
        verbose_name_plural = "partners' portal access"


class ChangeRecord(models.Model):
    """One field a partner user changed: evidence, never edited (PROTECT keeps it when someone tries to delete)."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="portal_changes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="portal_changes")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    field = models.CharField(max_length=40)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The admin who approved it, when the partner's changes wait for approval.",
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.partner}: {self.field} changed by {self.user}"


def token_hash(key):
    """What is stored of a token: its SHA-256, so the table never holds a key that works."""
    return hashlib.sha256(key.encode()).hexdigest()


class PartnerToken(models.Model):
    """A key for the partner API (/api/partner/v1/), good for one partner's reads only, shown once when made."""

    PREFIX = "pt_"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, help_text="What it is for, e.g. the reporting script.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=12, editable=False, help_text="The key's first characters, to tell keys apart.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="partner_tokens"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.partner}: {self.name} ({self.hint}…)"

    @classmethod
    def issue(cls, partner, name, user=None):
        """(token, key): the key is returned this once; only its hash is kept."""
        key = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(partner=partner, name=name, key_hash=token_hash(key), hint=key[:8], created_by=user)
        return token, key


class Review(models.TextChoices):
    PENDING = "pending", "waiting for an admin"
    APPROVED = "approved"
    REJECTED = "rejected"


class PendingChange(models.Model):
    """A partner user's settings change held for an admin's approval (the partner's portal_changes_need_approval):
    nothing of it applies until approved, and then it applies as one change, recorded field by field."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="pending_portal_changes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    old_values = models.JSONField(default=dict, help_text="The fields as they were when the change was asked for.")
    new_values = models.JSONField(default=dict)
    review = models.CharField(max_length=8, choices=Review.choices, default=Review.PENDING, db_index=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, help_text="Why it was rejected, or what happened when it was approved.")

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.partner}: {', '.join(self.new_values)} by {self.user} ({self.review})"
