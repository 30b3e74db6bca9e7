"""Test postbacks: rows an admin schedules to prove a partner integration, with what the partner answered."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from partners.models import AttemptRecord, Partner
from receiver.lifecycle import Status


class TestState(models.TextChoices):
    __test__ = False  # not a pytest test class, despite its name
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_TEST_STATES = (TestState.SUCCEEDED, TestState.FAILED, TestState.CANCELLED)


class TestPostback(AttemptRecord):
    """One row of a batch: its inputs, when it is due, and the attempt it made (test sends are never retried)."""

    __test__ = False  # not a pytest test class, despite its name

    batch = models.UUIDField(db_index=True)
    position = models.PositiveSmallIntegerField(help_text="Row number within the batch, from 1.")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="test_postbacks")
    username = models.CharField(max_length=200)
    offer_name = models.CharField(max_length=200)
    points = models.PositiveIntegerField(default=0)
    payout = models.DecimalField(
        max_digits=18, decimal_places=6, null=True, blank=True, validators=[MinValueValidator(Decimal(0))]
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.APPROVED)
    delay_minutes = models.PositiveIntegerField(default=0, help_text="Wait after the previous row.")
    scheduled_for = models.DateTimeField()
    state = models.CharField(max_length=10, choices=TestState.choices, default=TestState.SCHEDULED, db_index=True)
    task_id = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "position"]
        constraints = [models.UniqueConstraint(fields=["batch", "position"], name="one_row_per_batch_position")]
        permissions = [("send_test_postback", "Can send test postbacks (the tool, its API, the partner action)")]

    def __str__(self):
        return f"test #{self.position} to {self.partner} ({self.state})"
