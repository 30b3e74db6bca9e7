"""Who may use the portal for which partner, and the record of every change a partner user made there."""

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

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.partner}: {self.field} changed by {self.user}"
