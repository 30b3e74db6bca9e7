"""Read-only admin for deliveries and attempts, and the conversion page's trace down to every attempt."""

from django.contrib import admin, messages
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html

from postbacks_project.cli import money_text
from receiver.admin import ConversionAdmin, ReadOnlyAdmin

from .admin_claims import NotReportedFilter, report_to_network
from .models import Delivery, DeliveryAttempt, Effect
from .redelivery import redeliver

SHORT = 60


def _short(text, limit=SHORT):
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _change_link(obj, text=None):
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text or str(obj))


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    ordering = ["number"]
    fields = [
        "number",
        "created_at",
        "method",
        "url",
        "response_status",
        "duration_ms",
        "error",
        "error_code",
        "task_id",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "partner",
        "conversion_link",
        "event_kind",
        "state",
        "attempts",
        "paid",
        "last_status_code",
        "last_error_short",
        "next_attempt_at",
    ]
    list_filter = ["state", "last_error_code", "partner"]
    list_select_related = ["partner", "event__conversion"]
    search_fields = ["webhook_id", "event__conversion__click_id", "event__conversion__transaction_id"]
    raw_id_fields = ["event", "partner"]
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    actions = ["resend_now"]

    @admin.display(description="conversion", ordering="event__conversion")
    def conversion_link(self, obj):
        conversion = obj.event.conversion
        return _change_link(conversion, f"#{conversion.pk} {conversion.click_id}")

    @admin.display(description="event", ordering="event__kind")
    def event_kind(self, obj):
        return obj.event.kind

    @admin.display(description="last error")
    def last_error_short(self, obj):
        return _short(obj.last_error)

    @admin.display(description="partner's books", ordering="amount")
    def paid(self, obj):
        """+ a credit, - a take-back, or the amount a pending event shows in brackets; empty while waiting."""
        if obj.amount is None:
            return ""
        text = f"{money_text(obj.amount)} {obj.amount_currency}"
        return {Effect.CREDIT: f"+{text}", Effect.DEBIT: f"-{text}"}.get(obj.effect, f"({text})")

    def has_resend_permission(self, request):
        return request.user.has_perm("partners.resend_delivery")

    @admin.action(description="Resend now", permissions=["resend"])
    def resend_now(self, request, queryset):
        report = redeliver(queryset.order_by("id"))
        level = messages.SUCCESS if report.queued else messages.WARNING
        self.message_user(request, f"Resend: {report.summary()}.", level)


class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "delivery_link",
        "partner",
        "number",
        "method",
        "response_status",
        "duration_ms",
        "error_short",
        "url_short",
    ]
    list_filter = ["response_status", "error_code", "delivery__partner"]
    list_select_related = ["delivery__partner"]
    search_fields = ["url", "error"]
    raw_id_fields = ["delivery"]
    date_hierarchy = "created_at"

    @admin.display(description="delivery", ordering="delivery")
    def delivery_link(self, obj):
        return _change_link(obj.delivery, f"#{obj.delivery_id}")

    @admin.display(description="partner", ordering="delivery__partner__name")
    def partner(self, obj):
        return obj.delivery.partner

    @admin.display(description="error")
    def error_short(self, obj):
        return _short(obj.error)

    @admin.display(description="URL")
    def url_short(self, obj):
        return _short(obj.url, 100)


class ConversionTraceAdmin(ConversionAdmin):
    """The receiver's conversion page plus the trace: received -> events -> deliveries -> attempts."""

    readonly_fields = ["trace"]
    list_filter = [*ConversionAdmin.list_filter, NotReportedFilter]
    actions = [report_to_network]

    def get_fieldsets(self, request, obj=None):
        fields = [name for name in self.get_fields(request, obj) if name != "trace"]
        if obj is None:
            return [(None, {"fields": fields})]
        return [(None, {"fields": fields}), ("Trace: received → events → deliveries → attempts", {"fields": ["trace"]})]

    @admin.display(description="trace")
    def trace(self, obj):
        context = {"groups": trace_groups(obj), "conversion": obj}
        return render_to_string("admin/partners/conversion_trace.html", context)


def trace_groups(conversion):
    """[(postback or None, [event, ...])]: each received postback with the events it caused.

    Four queries whatever the number of events, partners and attempts: postbacks, events,
    deliveries with their partners, attempts.
    """
    attempts = Prefetch("attempt_set", queryset=DeliveryAttempt.objects.order_by("number"))
    deliveries = Prefetch(
        "deliveries", queryset=Delivery.objects.select_related("partner").prefetch_related(attempts).order_by("id")
    )
    events = list(conversion.events.order_by("id").prefetch_related(deliveries))
    by_postback = {}
    for event in events:
        by_postback.setdefault(event.postback_id, []).append(event)
    groups = [
        (postback, by_postback.pop(postback.pk, []))
        for postback in conversion.postbacks.select_related("network").order_by("id")
    ]
    # Events whose postback is gone (or that no postback made) still belong in the trace.
    orphans = [event for group in by_postback.values() for event in group]
    if orphans:
        groups.append((None, orphans))
    return groups
