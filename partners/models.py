"""Downstream partners that receive our postbacks (grown into full forwarding by issue #4)."""

from django.db import models
from django.utils import timezone


class Partner(models.Model):
    name = models.CharField(max_length=120, unique=True)
    is_active = models.BooleanField(default=True)
    postback_url = models.URLField(
        max_length=2000,
        help_text="Template with {macro} placeholders, e.g. https://partner.example/pb?click={click_id}&amount={payout}.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name
