"""GET /api/status/: the last hour's traffic and breakdown, the queue, failing partners, and the big tables' sizes."""

from datetime import timedelta

from django.db.models import Count, Min, Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from postbacks_project import tables
from postbacks_project.permissions import requires
from receiver import breakdown
from receiver.lifecycle import Status
from receiver.models import Conversion, Outcome, ReceivedPostback

from .figures import failing_destinations
from .models import DUE_STATES, Delivery, Destination, State

WINDOW = timedelta(hours=1)
# Unfinished deliveries; one waiting for a rate is sent once manage.py reconvert supplies it.
QUEUED_STATES = (
    *(State.PENDING.value, State.RETRYING.value, State.SENDING.value),
    *(State.WAITING_RATE.value, State.PARKED.value),
)
FAILING_LIMIT = 100


def _counts_by(column, values):
    """Aggregates for one query: the total and one filtered COUNT per value."""
    return {"total": Count("id"), **{value: Count("id", filter=Q(**{column: value})) for value in values}}


def _counts_schema(name, values):
    fields = {name: serializers.IntegerField() for name in ("total", *values)}
    return inline_serializer(name, fields)


class FailingPartnerSerializer(serializers.ModelSerializer):
    sending_state = serializers.CharField(help_text="sending (failing, still tried), inactive or auto-disabled.")
    last_error = serializers.CharField(help_text="The newest failed delivery's error.")
    slug = serializers.CharField(allow_null=True, help_text="A partner's slug; null for a network's own postback.")
    network_id = serializers.IntegerField(allow_null=True, help_text="The network whose own postback this is, or null.")

    class Meta:
        model = Destination
        fields = [
            "id",
            "name",
            "slug",
            "sending_state",
            "failing_since",
            "disabled_at",
            "disabled_reason",
            "last_error",
            "network_id",
        ]


class BreakdownRowSerializer(serializers.Serializer):
    name = serializers.CharField()
    clicks = serializers.IntegerField(
        allow_null=True, help_text="Our clicks plus the networks' click ids claims reported; null for a type."
    )
    converted_clicks = serializers.IntegerField(
        allow_null=True, help_text="Of those clicks, the ones a real conversion came from; null for a type."
    )
    conversions = serializers.IntegerField()
    by_type = serializers.DictField(child=serializers.IntegerField(), help_text="Conversions per type.")
    approved = serializers.IntegerField()
    payout = serializers.DecimalField(
        max_digits=18, decimal_places=6, help_text="Approved conversions' payout in the house currency."
    )
    conversion_rate = serializers.DecimalField(
        max_digits=8,
        decimal_places=2,
        allow_null=True,
        help_text="Converted clicks, percent of clicks; null without any.",
    )


TableSizes = inline_serializer(
    "TableSizes",
    {
        "vendor": serializers.CharField(),
        "size_basis": serializers.CharField(
            help_text="pg_total_relation_size or dbstat (each table with its indexes), or database_file: SQLite "
            "without dbstat, or too big to read every page, gives only database_bytes."
        ),
        "database_bytes": serializers.IntegerField(allow_null=True),
        "tables": inline_serializer(
            "TableSize",
            {
                "model": serializers.CharField(),
                "table": serializers.CharField(),
                "rows": serializers.IntegerField(),
                "rows_basis": serializers.ChoiceField(
                    [tables.EXACT, tables.ESTIMATE, tables.AT_LEAST],
                    help_text="estimate: PostgreSQL's pg_class.reltuples; at_least: counting stopped there.",
                ),
                "bytes": serializers.IntegerField(allow_null=True, help_text="The table and its indexes."),
                "oldest": serializers.DateTimeField(allow_null=True, help_text="The oldest row kept."),
            },
            many=True,
        ),
    },
)


SystemStatus = inline_serializer(
    "SystemStatus",
    {
        "generated_at": serializers.DateTimeField(),
        "since": serializers.DateTimeField(help_text="Start of the last-hour window."),
        "last_hour": inline_serializer(
            "LastHour",
            {
                "postbacks": _counts_schema("PostbacksByOutcome", Outcome.values),
                "conversions": _counts_schema("ConversionsByStatus", Status.values),
                "deliveries": _counts_schema("DeliveriesByState", State.values),
            },
        ),
        "queue": inline_serializer(
            "DeliveryQueue",
            {
                **{name: serializers.IntegerField() for name in ("total", *QUEUED_STATES)},
                "due_now": serializers.IntegerField(help_text="Pending or retrying with their time come."),
                "oldest_due_at": serializers.DateTimeField(allow_null=True),
            },
        ),
        "failing_partners": FailingPartnerSerializer(many=True),
        "tables": TableSizes,
        "breakdown": inline_serializer(
            "StatusBreakdown",
            {name: BreakdownRowSerializer(many=True) for name in ("by_network", "by_offer", "by_conversion_type")},
        ),
    },
)


@extend_schema(responses=SystemStatus, summary="System status")
@api_view(["GET"])
@permission_classes([requires("partners.view_dashboard")])
def system_status(request):
    """The last hour: postbacks, conversions (test ones excluded), deliveries, and per network, offer and
    conversion type the clicks, conversions by type, payouts and conversion rates; the queue; failing partners; the
    big tables' rows, bytes and oldest row (postbacks_project/tables.py)."""
    now = timezone.now()
    since = now - WINDOW
    recent_postbacks = ReceivedPostback.objects.filter(received_at__gte=since)
    postbacks = recent_postbacks.aggregate(**_counts_by("outcome", Outcome.values))
    conversions = Conversion.objects.filter(created_at__gte=since, is_test=False).aggregate(
        **_counts_by("status", Status.values)
    )
    deliveries = Delivery.objects.filter(created_at__gte=since).aggregate(**_counts_by("state", State.values))
    due = Q(state__in=DUE_STATES)
    queue = Delivery.objects.filter(state__in=QUEUED_STATES).aggregate(
        **_counts_by("state", QUEUED_STATES),
        due_now=Count("id", filter=due & Q(next_attempt_at__lte=now)),
        oldest_due_at=Min("next_attempt_at", filter=due),
    )
    return Response(
        {
            "generated_at": now,
            "since": since,
            "last_hour": {"postbacks": postbacks, "conversions": conversions, "deliveries": deliveries},
            "queue": queue,
            "failing_partners": FailingPartnerSerializer(failing_destinations(limit=FAILING_LIMIT), many=True).data,
            "tables": tables.measure().as_dict(),
            "breakdown": {  # the last hour's, per network, offer and conversion type
                name: BreakdownRowSerializer(rows, many=True).data
                for name, rows in vars(breakdown.compute(since, now + timedelta(seconds=1))).items()
            },
        }
    )
