"""Read-only admin for deliveries and attempts, and the trace panel on the conversion page down to every attempt."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from postbacks_project.admin_scale import recent_filter, status_class_filter
from postbacks_project.badges import BAD, OK, WAIT, badge
from postbacks_project.cli import money_text
from receiver.admin import ReadOnlyAdmin, short_id

from .models import DUE_STATES, Delivery, DeliveryAttempt, Effect, State
from .redelivery import REPLAYABLE, redeliver

SHORT = 60
ERROR_SHOWN = 32  # the list's error column: the code and the start of the line, the whole on the delivery's page
STATE_TONES = {
    State.SUCCEEDED: OK,
    State.FAILED: BAD,
    State.PENDING: WAIT,
    State.SENDING: WAIT,
    State.RETRYING: WAIT,
    State.WAITING_RATE: WAIT,
    State.PARKED: WAIT,
}
# Why a delivery that is not due has no next attempt time; a final one has none.
NOT_DUE = {
    State.SENDING: "in flight now",
    State.PARKED: "when its partner is re-enabled",
    State.WAITING_RATE: "once the exchange rate is in",
}


def _short(text, limit=SHORT):
    return text if len(text) <= limit else text[: limit - 1] + "…"


def next_attempt(delivery):
    """When the drainer tries the delivery next, or why it does not; "-" once it is final."""
    if delivery.state in DUE_STATES:
        return date_format(timezone.localtime(delivery.next_attempt_at), "DATETIME_FORMAT")
    return NOT_DUE.get(delivery.state, "-")


def can_resend(request):
    return request.user.has_perm("partners.resend_delivery")


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
    # What an admin scans for comes first, so state, attempts, code, error and next attempt fit 1366 px beside the
    # sidebar and filters; the event's kind rides in the conversion column.
    list_display = [
        "id",
        "state_badge",
        "attempts",
        "code",
        "last_error_short",
        "next_attempt",
        "destination",
        "conversion_link",
        "created_at",
        "paid",
    ]
    list_filter = [recent_filter("created_at", "made"), "state", "last_error_code", "destination"]
    list_select_related = ["destination", "event__conversion"]
    search_fields = [
        "webhook_id__exact",
        "event__conversion__click_id__exact",
        "event__conversion__transaction_id__exact",
    ]
    search_help_text = "The exact webhook id, or the conversion's click id or transaction id."
    autocomplete_fields = ["event"]
    inlines = [AttemptInline]
    actions = ["resend_now"]
    readonly_fields = ["next_attempt"]
    change_form_template = "admin/partners/delivery/change_form.html"

    def get_urls(self):
        resend = path(
            "<path:object_id>/resend/", self.admin_site.admin_view(self.resend_view), name="partners_delivery_resend"
        )
        # Before the defaults: their "<path:object_id>/" would swallow it.
        return [resend, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = {"can_resend": can_resend(request), "replayable": REPLAYABLE}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **context})

    def resend_view(self, request, object_id):
        """POST: the resend action for one delivery, from its page or the conversion trace; back where it came from."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not can_resend(request):
            raise PermissionDenied
        delivery = self.get_object(request, unquote(object_id))
        if delivery is None:
            raise Http404("no such delivery")
        report = redeliver([delivery])
        level = messages.SUCCESS if report.queued else messages.WARNING
        self.message_user(request, f"Resend of delivery #{delivery.pk}: {report.summary()}.", level)
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=False):
            back = reverse("admin:partners_delivery_change", args=[delivery.pk])
        return HttpResponseRedirect(back)

    def get_fields(self, request, obj=None):
        # The raw next_attempt_at of a final delivery is stale: show the one that says when, or why not.
        fields = [name for name in super().get_fields(request, obj) if name not in ("next_attempt", "next_attempt_at")]
        fields.insert(fields.index("state") + 1, "next_attempt")
        return fields

    @admin.display(description="next attempt", ordering="next_attempt_at")
    def next_attempt(self, obj):
        return next_attempt(obj)

    @admin.display(description="conversion", ordering="event__conversion")
    def conversion_link(self, obj):
        conversion = obj.event.conversion
        link = _change_link(conversion, f"#{conversion.pk}")
        return format_html("{} {} · {}", link, short_id(conversion.click_id), obj.event.kind)

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj):
        return badge(obj.state, obj.state, STATE_TONES)

    @admin.display(description="code", ordering="last_status_code")
    def code(self, obj):
        return obj.last_status_code or "-"

    @admin.display(description="error")
    def last_error_short(self, obj):
        if not obj.last_error:
            return "-"
        text = f"{obj.last_error_code}: {obj.last_error}" if obj.last_error_code else obj.last_error
        return format_html('<span title="{}">{}</span>', text, _short(text, ERROR_SHOWN))

    @admin.display(description="partner's books", ordering="amount")
    def paid(self, obj):
        """+ a credit, - a take-back, or the amount a pending event shows in brackets; empty while waiting."""
        if obj.amount is None:
            return ""
        text = f"{money_text(obj.amount)} {obj.amount_currency}"
        return {Effect.CREDIT: f"+{text}", Effect.DEBIT: f"-{text}"}.get(obj.effect, f"({text})")

    def has_resend_permission(self, request):
        return can_resend(request)

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
        "destination",
        "number",
        "method",
        "response_status",
        "duration_ms",
        "error_short",
        "url_short",
    ]
    list_filter = [
        recent_filter("created_at", "made"),
        status_class_filter("response_status"),
        "error_code",
        "delivery__destination",
    ]
    list_select_related = ["delivery__destination"]
    search_fields = ["delivery__webhook_id__exact"]
    search_help_text = "The delivery's exact webhook id."
    autocomplete_fields = ["delivery"]

    @admin.display(description="delivery", ordering="delivery")
    def delivery_link(self, obj):
        return _change_link(obj.delivery, f"#{obj.delivery_id}")

    @admin.display(description="destination", ordering="delivery__destination__name")
    def destination(self, obj):
        return obj.delivery.destination

    @admin.display(description="error")
    def error_short(self, obj):
        return _short(obj.error)

    @admin.display(description="URL")
    def url_short(self, obj):
        return _short(obj.url, 100)


def trace_panel(request, conversion):
    """The partners' panel on a conversion's page: its trace, with a resend button where one may resend."""
    groups = trace_groups(conversion)
    for _postback, events in groups:
        for event in events:
            for delivery in event.deliveries.all():
                delivery.next_attempt_text = next_attempt(delivery)
    context = {
        "trace_groups": groups,
        "conversion": conversion,
        "can_resend": can_resend(request),
        "replayable": REPLAYABLE,
    }
    return render_to_string("admin/partners/conversion_trace_panel.html", context, request=request)


def trace_groups(conversion):
    """[(postback or None, [event, ...])]: each received postback with the events it caused.

    Four queries whatever the number of events, destinations and attempts: postbacks, events,
    deliveries with their destinations, attempts.
    """
    attempts = Prefetch("attempt_set", queryset=DeliveryAttempt.objects.order_by("number"))
    with_destination = Delivery.objects.select_related("destination__networkpostback")
    deliveries = Prefetch("deliveries", queryset=with_destination.prefetch_related(attempts).order_by("id"))
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
