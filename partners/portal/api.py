"""The partner API (/api/partner/v1/): a partner token's own settings, deliveries with attempts, and daily stats;
the portal's reads, for scripts. Another partner's ids are a 404, like ids that do not exist."""

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.response import Response

from partners.api import DeliveryAttemptSerializer
from partners.macros import event_name
from partners.models import Delivery, DeliveryAttempt, State
from postbacks_project.api import ApiViewMixin, choice, date_range, exact

from . import stats
from .api_auth import HasPartnerToken, PartnerTokenAuthentication
from .terms import read_only_terms
from .views import breaker_text, parked_text

AUTH = {"authentication_classes": [PartnerTokenAuthentication], "permission_classes": [HasPartnerToken]}


class PartnerAttemptSerializer(DeliveryAttemptSerializer):
    class Meta(DeliveryAttemptSerializer.Meta):
        # The admin API's attempt as stored (URL and headers with secrets masked), less what only we need: our row
        # id, the worker's task id and the exception's technical detail behind the one-line error.
        fields = [f for f in DeliveryAttemptSerializer.Meta.fields if f not in ("id", "task_id", "error_detail")]


class PartnerDeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    webhook_id = serializers.CharField()
    event = serializers.SerializerMethodField()
    status = serializers.CharField(source="event.to_status")
    conversion = serializers.IntegerField(source="event.conversion_id")
    click_id = serializers.CharField(source="event.conversion.click_id")
    transaction_id = serializers.CharField(source="event.conversion.transaction_id")
    state = serializers.CharField(help_text="One of " + ", ".join(State.values) + ".")
    reason = serializers.CharField()
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    effect = serializers.CharField(help_text="credit, debit (a take-back) or none.")
    amount = serializers.DecimalField(max_digits=18, decimal_places=6, allow_null=True, help_text="{payout}.")
    amount_currency = serializers.CharField()
    previous_amount = serializers.DecimalField(max_digits=18, decimal_places=6, allow_null=True)
    points = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_event(self, delivery) -> str:
        return event_name(delivery.event)


class PartnerHistorySerializer(serializers.Serializer):
    created_at = serializers.DateTimeField()
    kind = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()


class PartnerDeliveryDetailSerializer(PartnerDeliverySerializer):
    attempt_log = PartnerAttemptSerializer(source="attempt_set", many=True, help_text="Every HTTP try, first to last.")
    status_history = PartnerHistorySerializer(source="event.conversion.events.all", many=True)


class DeliveryViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """The token's partner's deliveries, newest first, with their attempts and the conversion's status history."""

    query_filters = {
        **date_range("created_at"),
        "state": choice("state", State.values, "The delivery's state."),
        "click_id": exact("event__conversion__click_id", "The conversion's click id, exactly."),
        "transaction_id": exact("event__conversion__transaction_id", "The conversion's transaction id, exactly."),
    }
    authentication_classes = AUTH["authentication_classes"]
    permission_classes = AUTH["permission_classes"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types, with no caller
            return Delivery.objects.none()
        deliveries = self.request.user.partner.deliveries.select_related("event__conversion")
        if self.action == "retrieve":
            attempts = DeliveryAttempt.objects.order_by("number", "id")
            deliveries = deliveries.prefetch_related(Prefetch("attempt_set", attempts), "event__conversion__events")
        return deliveries

    def get_serializer_class(self):
        return PartnerDeliveryDetailSerializer if self.action == "retrieve" else PartnerDeliverySerializer


PartnerSettings = inline_serializer(
    "PartnerSettings",
    {
        "id": serializers.IntegerField(),
        "name": serializers.CharField(),
        "postback_url": serializers.CharField(),
        "method": serializers.CharField(),
        "body_template": serializers.CharField(),
        "body_type": serializers.CharField(),
        "terms": serializers.DictField(child=serializers.CharField(), help_text="Set by the hub, read-only."),
        "breaker": serializers.CharField(),
        "parked": serializers.CharField(help_text="How many deliveries are parked (empty: none)."),
    },
)


@extend_schema(responses={200: PartnerSettings}, summary="The token's partner: postback settings and terms")
@api_view(["GET"])
@authentication_classes(AUTH["authentication_classes"])
@permission_classes(AUTH["permission_classes"])
def partner_settings(request):
    partner = request.user.partner
    fields = ["id", "name", "postback_url", "method", "body_template", "body_type"]
    return Response(
        {
            **{name: getattr(partner, name) for name in fields},
            "terms": dict(read_only_terms(partner)),
            "breaker": breaker_text(partner),
            "parked": parked_text(partner),
        }
    )


class StatsDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    deliveries = serializers.IntegerField(help_text="Sent or to be sent; those the partner's filters skip are not.")
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    conversions_delivered = serializers.IntegerField()
    success_rate = serializers.DecimalField(
        max_digits=4, decimal_places=1, allow_null=True, help_text="Succeeded in percent of the final ones."
    )
    payouts = serializers.DictField(
        child=serializers.DecimalField(max_digits=18, decimal_places=6),
        help_text="Currency: the succeeded deliveries' amounts, take-backs subtracted.",
    )
    points = serializers.IntegerField()


@extend_schema(
    parameters=[
        OpenApiParameter("date_from", str, description="First day, YYYY-MM-DD (default: 29 days before date_to)."),
        OpenApiParameter("date_to", str, description="Last day, YYYY-MM-DD (default: today)."),
    ],
    responses={200: inline_serializer("PartnerStats", {"days": StatsDaySerializer(many=True)})},
    summary="The token's partner's figures per day, newest first",
)
@api_view(["GET"])
@authentication_classes(AUTH["authentication_classes"])
@permission_classes(AUTH["permission_classes"])
def partner_stats(request):
    form = stats.PeriodForm(request.query_params)
    if not form.is_valid():
        raise serializers.ValidationError(form.errors.get_json_data())
    days = stats.daily(request.user.partner, *form.period())
    return Response({"days": StatsDaySerializer(days, many=True).data})
