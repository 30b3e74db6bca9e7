"""Validation of test-postback rows: the one place their rules live (API, admin page, action, command)."""

from django.utils import timezone
from rest_framework import serializers

from partners.models import Partner
from receiver.lifecycle import Status

from .models import TestPostback

MAX_DELAY_MINUTES = 24 * 60
MAX_ROWS = 50


class TestRowSerializer(serializers.Serializer):
    partner_id = serializers.PrimaryKeyRelatedField(
        queryset=Partner.objects.all(), source="partner", help_text="The partner to send the test postback to."
    )
    username = serializers.CharField(max_length=200, default="test-user")
    offer_name = serializers.CharField(max_length=200, default="Test offer")
    points = serializers.IntegerField(min_value=0, max_value=10**9, default=0)
    payout = serializers.DecimalField(
        max_digits=18, decimal_places=6, min_value=0, required=False, allow_null=True, coerce_to_string=True
    )
    status = serializers.ChoiceField(choices=Status.choices, default=Status.APPROVED)
    delay_minutes = serializers.IntegerField(
        min_value=0, max_value=MAX_DELAY_MINUTES, default=0, help_text="Minutes to wait after the previous row."
    )


class TestBatchSerializer(serializers.Serializer):
    rows = TestRowSerializer(many=True, allow_empty=False, max_length=MAX_ROWS)


class TestPostbackSerializer(serializers.ModelSerializer):
    partner = serializers.CharField(source="partner.name")
    seconds_left = serializers.SerializerMethodField()

    class Meta:
        model = TestPostback
        fields = [
            "id",
            "position",
            "partner_id",
            "partner",
            "username",
            "offer_name",
            "points",
            "payout",
            "status",
            "delay_minutes",
            "state",
            "scheduled_for",
            "seconds_left",
            "sent_at",
            "url",
            "method",
            "request_headers",
            "request_body",
            "response_status",
            "response_body",
            "duration_ms",
            "error",
            "error_code",
            "error_detail",
        ]

    def get_seconds_left(self, row) -> int:
        return max(0, int((row.scheduled_for - timezone.now()).total_seconds()))
