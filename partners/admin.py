"""Admin for partners (terms, signing, auto-disable, live URL preview) and registration of the delivery logs."""

import time

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed, JsonResponse
from django.urls import path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from postbacks_project.admin_extensions import ExtensibleAdmin, Extensions
from postbacks_project.admin_forms import DecimalsAsWritten, deactivate
from postbacks_project.cli import money_text
from receiver.lifecycle import Status

from .admin_destinations import BANNER_NAMES, AutoDisabledFilter, DestinationAdmin, DestinationForm, ReasonActionForm
from .admin_logs import DeliveryAdmin, DeliveryAttemptAdmin
from .allocation import over_allocated
from .macros import sample_values
from .models import Delivery, DeliveryAttempt, Method, OfferShare, Partner, ShareType
from .outbound import build_request
from .redelivery import failed_since, redeliver
from .templating import MACROS

PREVIEW_FIELDS = [
    "postback_url",
    "method",
    "body_template",
    "body_type",
    "share_type",
    "share_value",
    "points_mode",
    "points_value",
]
# Inlines another app shows on the partner's page (the portal's change records and approvals): add_inline().
EXTRA_INLINES = []


def add_inline(inline):
    if inline not in EXTRA_INLINES:
        EXTRA_INLINES.append(inline)


# What the apps built on ours add to the partner pages (the test tool: its "Send test postback" action).
partner_page = Extensions()


class PartnerForm(DestinationForm):
    # Stored as the JSON list the model keeps; ticked here, not typed as JSON.
    statuses = forms.MultipleChoiceField(
        choices=Status.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only conversions in the ticked statuses; none ticked: all.",
    )


class PreviewForm(forms.ModelForm):
    """The fields that shape the rendered request; validated by the same Partner.clean as a save."""

    class Meta:
        model = Partner
        fields = PREVIEW_FIELDS


class ReplayActionForm(ReasonActionForm):
    since = forms.CharField(
        required=False,
        label="since:",
        widget=forms.TextInput(attrs={"placeholder": "YYYY-MM-DD HH:MM", "size": 16}),
        help_text="For the replay action.",
    )
    field_order = ["action", "since", "reason"]


class OfferShareInline(admin.TabularInline):
    model = OfferShare
    form = DecimalsAsWritten
    extra = 0
    autocomplete_fields = ["offer"]
    verbose_name_plural = "revenue share per offer (instead of the default share above)"


@admin.register(Partner)
class PartnerAdmin(DestinationAdmin, ExtensibleAdmin):
    extensions = partner_page
    form = PartnerForm
    action_form = ReplayActionForm
    list_display = [
        "name",
        "is_active",
        "sending_state",
        "breaker",
        "limits",
        "parked",
        "method",
        "scope",
        "share",
        "last_delivery_state",
        "created_at",
    ]
    list_filter = ["is_active", AutoDisabledFilter, "method", "scope", "networks"]
    list_select_related = ["health"]
    search_fields = ["name", "slug", "postback_url"]
    filter_horizontal = ["networks", "offers"]
    date_hierarchy = "created_at"
    readonly_fields = ["macros", *DestinationAdmin.readonly_fields]
    actions = [deactivate, *DestinationAdmin.actions, "replay_failed"]
    inlines = [OfferShareInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_active"]}),
        ("Template", {"fields": ["postback_url", "macros", "method", "body_template", "body_type", "headers"]}),
        ("Who receives", {"fields": ["scope", "networks", "offers", "statuses", "min_payout", "receives_tests"]}),
        (
            "Money",
            {
                "fields": [
                    "payout_basis",
                    "share_type",
                    "share_value",
                    "share_currency",
                    "payout_places",
                    "send_adjustments",
                    "points_mode",
                    "points_value",
                ]
            },
        ),
        ("Sending limits", {"fields": ["max_concurrency", "max_per_second"]}),
        ("Signing", {"fields": ["signing_secret", "generate_secret"]}),
        DestinationAdmin.state_fieldset,
    ]

    class Media:
        js = ["partners/macros.js"]

    @admin.display(description="macros")
    def macros(self, obj):
        """The one list of macros; a click puts one in the URL or body template, wherever the cursor was last."""
        macros = [*((f"{{{name}}}", meaning) for name, meaning in MACROS.items())]
        macros.append(("{custom.KEY}", "a value the network passed through, by its key"))
        buttons = format_html_join(
            " ",
            '<button type="button" class="button macro" data-macro="{}" title="{}">{}</button>',
            ((macro, meaning, macro) for macro, meaning in macros),
        )
        return format_html('<div class="macro-list">{}</div>', buttons)

    def get_inlines(self, request, obj):
        # Only on a saved partner: a new one has no history to show.
        return [*self.inlines, *(EXTRA_INLINES if obj is not None else [])]

    def get_urls(self):
        preview = path("preview/", self.admin_site.admin_view(self.preview_view), name="partners_partner_preview")
        # Before the defaults: their "<path:object_id>/" would swallow "preview/".
        return [preview, *super().get_urls()]

    @admin.display(description="share", ordering="share_value")
    def share(self, obj):
        if obj.share_type == ShareType.FIXED:
            return f"{money_text(obj.share_value)} fixed"
        return f"{obj.share_value.normalize():f}%"

    def changelist_view(self, request, extra_context=None):
        # GET only: after a POSTed action the redirect's GET shows it, so it never appears twice.
        if request.method == "GET":
            self._warn_over_allocated(request, over_allocated())
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            self._warn_over_allocated(
                request, [row for row in over_allocated() if any(str(p.pk) == object_id for p, _ in row.shares)]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def _warn_over_allocated(self, request, rows):
        if not rows:
            return
        named = "; ".join(f"{row.offer}: {row.summary}" for row in rows[:BANNER_NAMES])
        more = f" and {len(rows) - BANNER_NAMES} more (see Stats)" if len(rows) > BANNER_NAMES else ""
        messages.warning(request, f"Shares exceed the offer's payout, each such conversion loses money: {named}{more}.")

    def has_resend_permission(self, request):
        return request.user.has_perm("partners.resend_delivery")

    @admin.action(description="Replay failed deliveries since ... (date in the box)", permissions=["resend"])
    def replay_failed(self, request, queryset):
        raw = request.POST.get("since", "").strip()
        if not raw:
            self.message_user(
                request,
                'Replay needs a start: type a date or date and time in the "since" box, '
                "e.g. 2025-01-31 or 2025-01-31 14:00.",
                messages.ERROR,
            )
            return
        try:
            since = forms.DateTimeField().clean(raw)
        except ValidationError:
            self.message_user(request, f"{raw!r} is not a date; use YYYY-MM-DD or YYYY-MM-DD HH:MM.", messages.ERROR)
            return
        partners = list(queryset)
        idle = [p.name for p in partners if not p.sendable]
        report = redeliver(failed_since([p for p in partners if p.sendable], since))
        when = date_format(timezone.localtime(since), "DATETIME_FORMAT")
        text = f"Replay of failed and cancelled deliveries since {when}: {report.summary()}."
        if idle:
            text += f" Not replayed for {', '.join(idle)}: inactive or auto-disabled; re-enable first."
        self.message_user(request, text, messages.SUCCESS if report.queued else messages.WARNING)

    def preview_view(self, request):
        """JSON {url, body, error}: the request a sample conversion would make with the posted fields."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        form = PreviewForm(request.POST, instance=Partner())
        if not form.is_valid():
            return JsonResponse({"url": None, "body": None, "error": _errors_text(form)})
        partner = form.instance
        outbound = build_request(partner, sample_values(partner), "msg_preview", int(time.time()))
        body = outbound.body.decode() if partner.method == Method.POST else None
        return JsonResponse({"url": outbound.url, "body": body, "error": None})


def _errors_text(form):
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else "form"
        parts.append(f"{label}: {' '.join(errors)}")
    return "; ".join(parts)


admin.site.register(Delivery, DeliveryAdmin)
admin.site.register(DeliveryAttempt, DeliveryAttemptAdmin)
