"""Admin for partners (terms, signing, auto-disable, live URL preview) and registration of the delivery logs."""

import time

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.http import HttpResponseNotAllowed, JsonResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.formats import date_format
from django.utils.html import escape, format_html, format_html_join
from django.utils.http import urlencode

from postbacks_project.admin_extensions import ExtensibleAdmin, Extensions
from postbacks_project.admin_forms import DecimalsAsWritten, deactivate, normalise_decimals
from postbacks_project.badges import BAD, OK, WAIT, badge
from postbacks_project.cli import money_text
from receiver.lifecycle import Status

from . import parking
from .admin_logs import DeliveryAdmin, DeliveryAttemptAdmin
from .allocation import over_allocated
from .drainer import concurrency_of, rate_of
from .macros import sample_values
from .models import Breaker, Delivery, DeliveryAttempt, Method, OfferShare, Partner, ShareType, State
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
BANNER_NAMES = 10
# Inlines another app shows on the partner's page (the portal's change records and approvals): add_inline().
EXTRA_INLINES = []


def add_inline(inline):
    if inline not in EXTRA_INLINES:
        EXTRA_INLINES.append(inline)


STATE_FIELDS = ["disabled_at", "disabled_reason", "failing_since", "created_at"]
BREAKER_TONES = {Breaker.CLOSED: OK, Breaker.OPEN: BAD, Breaker.HALF_OPEN: WAIT}

# What the apps built on ours add to the partner pages (the test tool: its "Send test postback" action).
partner_page = Extensions()


class PartnerForm(forms.ModelForm):
    # Stored as the JSON list the model keeps; ticked here, not typed as JSON.
    statuses = forms.MultipleChoiceField(
        choices=Status.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only conversions in the ticked statuses; none ticked: all.",
    )
    generate_secret = forms.BooleanField(
        required=False,
        label="Generate a new signing secret",
        help_text="On save, makes a new random secret and shows it once, on the next page; the current one keeps "
        "signing requests beside it for PARTNER_SECRET_ROTATION_HOURS, so the partner switches over in its time.",
    )

    # No Meta: the admin builds the form's Meta from the fieldsets below.

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The admin renders help texts as HTML: "/click/<offer>/?partner=<slug>" lost its placeholders as tags.
        for field in self.fields.values():
            field.help_text = escape(field.help_text)
        if "postback_url" in self.fields:
            # A template with a few parameters is longer than a line: wrap it, as wide as the form.
            self.fields["postback_url"].widget = forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField"})
        normalise_decimals(self)
        if "signing_secret" in self.fields:
            # Written, never shown: the page would otherwise hold the secret in clear for anyone who opens it.
            field = self.fields["signing_secret"]
            field.widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
            is_set = bool(self.instance.pk and self.instance.signing_secret)
            field.help_text = ("Set: left empty, it stays. " if is_set else "Not set. ") + field.help_text

    def clean_signing_secret(self):
        return self.cleaned_data["signing_secret"] or (self.instance.signing_secret if self.instance.pk else "")


class PreviewForm(forms.ModelForm):
    """The fields that shape the rendered request; validated by the same Partner.clean as a save."""

    class Meta:
        model = Partner
        fields = PREVIEW_FIELDS


class ReplayActionForm(ActionForm):
    since = forms.CharField(
        required=False,
        label="since:",
        widget=forms.TextInput(attrs={"placeholder": "YYYY-MM-DD HH:MM", "size": 16}),
        help_text="For the replay action.",
    )
    reason = forms.CharField(
        required=False,
        label="reason:",
        widget=forms.TextInput(attrs={"placeholder": "why parked deliveries are discarded", "size": 30}),
        help_text="For re-enabling with discard: kept on each discarded delivery.",
    )


class AutoDisabledFilter(admin.SimpleListFilter):
    title = "auto-disabled"
    parameter_name = "auto_disabled"

    def lookups(self, request, model_admin):
        return [("yes", "yes"), ("no", "no")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(disabled_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(disabled_at__isnull=True)
        return queryset


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("partner", "partners"), ("network", "networks' outgoing postbacks")]

    def queryset(self, request, queryset):
        if self.value() in ("partner", "network"):
            return queryset.filter(network__isnull=self.value() == "partner")
        return queryset


class OfferShareInline(admin.TabularInline):
    model = OfferShare
    form = DecimalsAsWritten
    extra = 0
    autocomplete_fields = ["offer"]
    verbose_name_plural = "revenue share per offer (instead of the default share above)"


@admin.register(Partner)
class PartnerAdmin(ExtensibleAdmin):
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
        "network",
        "method",
        "scope",
        "share",
        "last_delivery_state",
        "created_at",
    ]
    list_filter = ["is_active", AutoDisabledFilter, KindFilter, "method", "scope", "networks"]
    list_select_related = ["network", "health"]
    autocomplete_fields = ["network"]
    search_fields = ["name", "slug", "postback_url"]
    filter_horizontal = ["networks", "offers"]
    date_hierarchy = "created_at"
    readonly_fields = ["macros", "breaker", "limits", "parked", *STATE_FIELDS]
    actions = [deactivate, "reenable", "reenable_discard", "replay_failed"]
    inlines = [OfferShareInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_active", "network"]}),
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
        (
            "State",
            {
                "fields": ["breaker", "limits", "parked", *STATE_FIELDS],
                "description": 'An auto-disabled partner\'s deliveries wait as "parked": select the partner in the '
                "list and re-enable it, replaying them or discarding them with a reason.",
            },
        ),
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

    def get_queryset(self, request):
        newest = Delivery.objects.filter(partner=OuterRef("pk")).order_by("-id")
        parked = (
            Delivery.objects.filter(partner=OuterRef("pk"), state=State.PARKED)
            .order_by()
            .values("partner")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(last_state=Subquery(newest.values("state")[:1]), parked_count=Subquery(parked))
        )

    def get_inlines(self, request, obj):
        # Only on a saved partner: a new one has no history to show.
        return [*self.inlines, *(EXTRA_INLINES if obj is not None else [])]

    def get_urls(self):
        preview = path("preview/", self.admin_site.admin_view(self.preview_view), name="partners_partner_preview")
        # Before the defaults: their "<path:object_id>/" would swallow "preview/".
        return [preview, *super().get_urls()]

    @admin.display(description="state")
    def sending_state(self, obj):
        return obj.sending_state

    @admin.display(description="breaker")
    def breaker(self, obj):
        """closed, or open with the next probe's time: a paused partner's deliveries wait, none is lost."""
        health = getattr(obj, "health", None)
        if health is None or health.breaker == Breaker.CLOSED:
            return badge("closed", "closed", BREAKER_TONES)
        probe = f", probe at {health.probe_at:%Y-%m-%d %H:%M:%S %Z}" if health.probe_at else ""
        text = f"{health.get_breaker_display()}: {health.consecutive_failures} failures in a row{probe}"
        return badge(health.breaker, text, BREAKER_TONES)

    @admin.display(description="limits")
    def limits(self, obj):
        """In flight at once and per second: the partner's own, or the defaults (DELIVERY_PARTNER_*) it falls to."""
        rate = rate_of(obj)
        parts = [
            (obj.max_concurrency, f"{concurrency_of(obj)} at once"),
            (obj.max_per_second, f"{rate} /s" if rate else "no limit per second"),
        ]
        return ", ".join(text + ("" if own else " (default)") for own, text in parts)

    @admin.display(description="parked", ordering="parked_count")
    def parked(self, obj):
        """Deliveries waiting for the partner to be re-enabled; the actions replay or discard them."""
        count = getattr(obj, "parked_count", None)
        if count is None and obj.pk:
            count = obj.deliveries.filter(state=State.PARKED).count()
        if not count:
            return "-"
        url = reverse("admin:partners_delivery_changelist")
        query = urlencode({"state__exact": State.PARKED, "partner__id__exact": obj.pk})
        return format_html('<a href="{}?{}">{} waiting</a>', url, query, count)

    @admin.display(description="share", ordering="share_value")
    def share(self, obj):
        if obj.share_type == ShareType.FIXED:
            return f"{money_text(obj.share_value)} fixed"
        return f"{obj.share_value.normalize():f}%"

    @admin.display(description="last delivery", ordering="last_state")
    def last_delivery_state(self, obj):
        return obj.last_state or "-"

    def changelist_view(self, request, extra_context=None):
        # GET only: after a POSTed action the redirect's GET shows it, so it never appears twice.
        if request.method == "GET":
            self._warn_auto_disabled(request)
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

    def _warn_auto_disabled(self, request):
        disabled = list(Partner.objects.filter(disabled_at__isnull=False).order_by("name")[: BANNER_NAMES + 1])
        if not disabled:
            return
        named = "; ".join(f"{p.name} ({p.disabled_reason or 'no reason recorded'})" for p in disabled[:BANNER_NAMES])
        more = " and more (filter by auto-disabled)" if len(disabled) > BANNER_NAMES else ""
        messages.warning(
            request,
            f"Auto-disabled, nothing is sent to them: {named}{more}. "
            'Once the partner is fixed, select it and run "Re-enable".',
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("generate_secret"):
            request.new_signing_secret = obj.rotate_signing_secret()

    def response_add(self, request, obj, post_url_continue=None):
        return self._secret_once(request, obj) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        return self._secret_once(request, obj) or super().response_change(request, obj)

    def _secret_once(self, request, obj):
        """The page that shows a new secret, on this answer only: never in a message (kept in the session or a
        cookie), never on the partner's page later."""
        secret = getattr(request, "new_signing_secret", None)
        if secret is None:
            return None
        context = {**self.admin_site.each_context(request), "partner": obj, "secret": secret, "opts": self.opts}
        response = render(request, "admin/partners/secret_once.html", context)
        add_never_cache_headers(response)
        response["Cache-Control"] += ", no-store"
        return response

    def has_delete_permission(self, request, obj=None):
        # Deliveries protect a partner that ever received one: offer "Deactivate" instead of a delete that fails.
        return False

    def has_resend_permission(self, request):
        return request.user.has_perm("partners.resend_delivery")

    @admin.action(
        description="Re-enable the selected auto-disabled partners and replay what was parked", permissions=["change"]
    )
    def reenable(self, request, queryset):
        count, replayed = parking.reenable(queryset, replay=True)
        self.message_user(
            request,
            f"Re-enabled {count} partner(s); {replayed} parked deliveries are sent again, within each partner's "
            "limits, and new conversions go out as they come.",
        )

    @admin.action(
        description="Re-enable the selected auto-disabled partners and discard what was parked (reason in the box)",
        permissions=["change"],
    )
    def reenable_discard(self, request, queryset):
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(
                request,
                'Discarding needs a reason, kept on each discarded delivery: type it in the "reason" box.',
                messages.ERROR,
            )
            return
        count, discarded = parking.reenable(queryset, replay=False, reason=reason)
        self.message_user(
            request,
            f"Re-enabled {count} partner(s); {discarded} parked deliveries discarded (cancelled, with the reason); "
            "new conversions go out as they come.",
        )

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
