"""The partners' part of the integrator API: partners (read and write), deliveries with attempts, resend."""

from django.db.models import Prefetch, Q
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from postbacks_project.api import ApiViewMixin, ModelValidationMixin, choice, date_range, exact, ident
from postbacks_project.masking import SECRET_NAME, mask_secret

from .models import Delivery, DeliveryAttempt, Partner, State
from .redelivery import redeliver
from .templating import known_macros_text


class PartnerSerializer(ModelValidationMixin, serializers.ModelSerializer):
    signing_secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Standard Webhooks secret (whsec_ + base64 of 24+ random bytes); write only, never shown. "
        "Omit it to keep the current one, send an empty string to stop signing.",
    )
    masked_signing_secret = serializers.SerializerMethodField()
    sending_state = serializers.CharField(read_only=True, help_text="sending, inactive or auto-disabled.")

    class Meta:
        model = Partner
        fields = [
            "id",
            "name",
            "slug",
            "is_active",
            "sending_state",
            "postback_url",
            "method",
            "body_template",
            "body_type",
            "headers",
            "scope",
            "networks",
            "offers",
            "statuses",
            "min_payout",
            "receives_tests",
            "max_concurrency",
            "max_per_second",
            "share_type",
            "share_value",
            "share_currency",
            "payout_basis",
            "payout_places",
            "send_adjustments",
            "points_mode",
            "points_value",
            "signing_secret",
            "masked_signing_secret",
            "disabled_at",
            "disabled_reason",
            "failing_since",
            "created_at",
        ]
        read_only_fields = ["disabled_at", "disabled_reason", "failing_since", "created_at"]
        extra_kwargs = {
            "postback_url": {"help_text": "URL template; known macros: " + known_macros_text() + "."},
            "headers": {"help_text": "Extra request headers. Values of secret-looking names are masked when read."},
        }

    def get_masked_signing_secret(self, partner) -> str:
        return mask_secret(partner.signing_secret)

    def to_representation(self, partner):
        data = super().to_representation(partner)
        # Header values such as X-Token or Authorization are credentials the partner gave us.
        data["headers"] = {
            name: mask_secret(value) if SECRET_NAME.search(name) else value
            for name, value in (partner.headers or {}).items()
        }
        return data


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "id",
            "number",
            "url",
            "method",
            "request_headers",
            "request_body",
            "response_status",
            "response_headers",
            "response_body",
            "duration_ms",
            "error",
            "error_code",
            "error_detail",
            "task_id",
            "created_at",
        ]


MONEY_FIELDS = ["effect", "amount", "amount_currency", "house_amount", "gross", "previous_amount", "points"]


class DeliverySerializer(serializers.ModelSerializer):
    conversion = serializers.IntegerField(source="event.conversion_id", read_only=True)
    partner = serializers.IntegerField(
        source="destination_id",
        read_only=True,
        help_text="Its destination's id: a partner's, or (destination_kind network_postback) the network postback's "
        "that reports an offer claim.",
    )
    partner_name = serializers.CharField(source="destination.name", read_only=True)
    destination_kind = serializers.SerializerMethodField()
    attempt_log = DeliveryAttemptSerializer(
        source="attempt_set", many=True, read_only=True, help_text="Every HTTP try, first to last."
    )

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event",
            "conversion",
            "partner",
            "partner_name",
            "destination_kind",
            "state",
            "reason",
            "webhook_id",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "last_error_code",
            "effect",
            "amount",
            "amount_currency",
            "house_amount",
            "gross",
            "previous_amount",
            "points",
            "created_at",
            "updated_at",
            "finished_at",
            "attempt_log",
        ]
        read_only_fields = MONEY_FIELDS
        # Fixed when the delivery is made; decimals are strings with six places, as everywhere in the API.
        extra_kwargs = {
            "effect": {
                "help_text": "What this delivery does to what the partner holds from the conversion: credit (an "
                "approval, or a higher payout), debit (a take-back: reversal, rejection after approval, or a lower "
                "payout) or none (pending, nothing to take back). The partner's net for a conversion is its "
                "credits' amounts minus its debits'."
            },
            "amount": {
                "help_text": "What this delivery credits or takes back (a pending one: what approval would pay), "
                "always positive, rounded as sent, in amount_currency; null while waiting for an exchange rate."
            },
            "amount_currency": {"help_text": "ISO 4217 code of amount; empty while waiting for an exchange rate."},
            "house_amount": {
                "help_text": "amount in the house currency (HOUSE_CURRENCY); null while the conversion's exchange "
                "rate is missing."
            },
            "gross": {
                "help_text": "{gross_payout}: the conversion's payout on the partner's basis, in amount_currency."
            },
            "previous_amount": {
                "help_text": "{previous_payout}: what the partner held from the conversion before this event, in "
                "amount_currency."
            },
            "points": {"help_text": "{points}: the user's points this delivery credits or takes back."},
        }

    def get_destination_kind(self, delivery) -> str:
        """partner, or network_postback: a claim's report to the network it came from."""
        return "network_postback" if getattr(delivery.destination, "networkpostback", None) else "partner"


ResendResult = inline_serializer(
    "ResendResult",
    {
        "delivery": serializers.IntegerField(),
        "queued": serializers.BooleanField(),
        "state": serializers.CharField(help_text="The delivery's state now."),
        "detail": serializers.CharField(help_text="What was done, or why not."),
    },
)

PARTNER_STATES = {
    "sending": Q(is_active=True, disabled_at__isnull=True),
    "inactive": Q(is_active=False, disabled_at__isnull=True),
    "auto-disabled": Q(disabled_at__isnull=False),
}


class PartnerViewSet(ApiViewMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Downstream partners. Create and update run the admin's checks; a partner with history is deactivated."""

    queryset = Partner.objects.prefetch_related("networks", "offers")
    serializer_class = PartnerSerializer
    query_filters = {
        **date_range("created_at"),
        "state": choice(PARTNER_STATES, list(PARTNER_STATES), "Sending, switched off by an admin, or by us."),
    }


class DeliveryViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Deliveries (one conversion event to one partner, or a claim's report to its network) with their attempts."""

    queryset = Delivery.objects.select_related("destination__networkpostback", "event").prefetch_related(
        Prefetch("attempt_set", DeliveryAttempt.objects.order_by("number", "id"))
    )
    serializer_class = DeliverySerializer
    query_filters = {
        **date_range("created_at"),
        "state": choice("state", State.values, "The delivery's state."),
        "partner": ident("destination_id", "partner (or network postback)"),
        "network": ident("event__conversion__network_id", "network"),
        "conversion": ident("event__conversion_id", "conversion"),
        "event": ident("event_id", "conversion event"),
        "click_id": exact("event__conversion__click_id", "The conversion's click id, exactly."),
        "transaction_id": exact("event__conversion__transaction_id", "The conversion's transaction id, exactly."),
    }
    action_permissions = {"resend": ["partners.view_delivery", "partners.resend_delivery"]}

    @extend_schema(
        request=None,
        responses={202: ResendResult, 409: ResendResult},
        summary="Send a delivery again now",
        description="Queued after commit: 202. A succeeded, in-flight or skipped delivery is not: 409 says why.",
    )
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        delivery = self.get_object()
        report = redeliver([delivery])
        if report.queued:
            body = {"delivery": delivery.pk, "queued": True, "state": State.PENDING, "detail": "queued"}
            return Response(body, status=status.HTTP_202_ACCEPTED)
        why = report.not_queued[0][1]
        body = {"delivery": delivery.pk, "queued": False, "state": delivery.state, "detail": f"not queued: {why}"}
        return Response(body, status=status.HTTP_409_CONFLICT)

    def get_queryset(self):
        # Resend needs the row only, not its attempts.
        return Delivery.objects.all() if self.action == "resend" else super().get_queryset()
