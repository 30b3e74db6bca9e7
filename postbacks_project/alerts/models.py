"""An alert: one condition on one subject, open from when it started until it cleared."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from . import registry


class Alert(models.Model):
    kind = models.CharField(max_length=20, help_text="What is wrong: one of the kinds the apps register.")
    key = models.CharField(max_length=60, help_text='What the alert is about, e.g. "partner:3" or "network:1".')
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="Empty while the condition holds.")
    last_message = models.TextField(help_text="What the last check saw while the alert was open.")

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            # Two checks running at once (two beats, a slow check overtaken by the next) open it once.
            models.UniqueConstraint(
                fields=["kind", "key"], condition=Q(closed_at__isnull=True), name="alert_one_open_per_subject"
            )
        ]

    def __str__(self):
        return f"{self.label} {self.key}"

    @property
    def label(self):
        return registry.label(self.kind)

    @property
    def is_open(self):
        return self.closed_at is None
