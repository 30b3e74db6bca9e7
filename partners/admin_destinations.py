"""What the admin pages of every destination share (sending state, breaker, limits, parked deliveries, re-enabling,
the write-only signing secret), and the page of a network's own postback, which reports its offer claims."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Count, OuterRef, Subquery
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import escape, format_html
from django.utils.http import urlencode

from postbacks_project.admin_forms import normalise_decimals
from postbacks_project.badges import BAD, OK, WAIT, badge

from . import parking
from .drainer import concurrency_of, rate_of
from .models import Breaker, Delivery, NetworkPostback, State

STATE_FIELDS = ["disabled_at", "disabled_reason", "failing_since", "created_at"]
BREAKER_TONES = {Breaker.CLOSED: OK, Breaker.OPEN: BAD, Breaker.HALF_OPEN: WAIT}
BANNER_NAMES = 10


class DestinationForm(forms.ModelForm):
    generate_secret = forms.BooleanField(
        required=False,
        label="Generate a new signing secret",
        help_text="On save, makes a new random secret and shows it once, on the next page; the current one keeps "
        "signing requests beside it for PARTNER_SECRET_ROTATION_HOURS, so the receiver switches over in its time.",
    )

    # No Meta: the admin builds the form's Meta from the fieldsets.

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


class DestinationAdmin(admin.ModelAdmin):
    """The engine's view of a destination, on its list and page, and the re-enable actions."""

    form = DestinationForm
    readonly_fields = ["breaker", "limits", "parked", *STATE_FIELDS]
    actions = ["reenable", "reenable_discard"]
    state_fieldset = (
        "State",
        {
            "fields": ["breaker", "limits", "parked", *STATE_FIELDS],
            "description": 'An auto-disabled destination\'s deliveries wait as "parked": select it in the list and '
            "re-enable it, replaying them or discarding them with a reason.",
        },
    )

    def get_queryset(self, request):
        newest = Delivery.objects.filter(destination=OuterRef("pk")).order_by("-id")
        parked = (
            Delivery.objects.filter(destination=OuterRef("pk"), state=State.PARKED)
            .order_by()
            .values("destination")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(last_state=Subquery(newest.values("state")[:1]), parked_count=Subquery(parked))
        )

    @admin.display(description="state")
    def sending_state(self, obj):
        return obj.sending_state

    @admin.display(description="breaker")
    def breaker(self, obj):
        """closed, or open with the next probe's time: a paused destination's deliveries wait, none is lost."""
        health = getattr(obj, "health", None)
        if health is None or health.breaker == Breaker.CLOSED:
            return badge("closed", "closed", BREAKER_TONES)
        probe = f", probe at {health.probe_at:%Y-%m-%d %H:%M:%S %Z}" if health.probe_at else ""
        text = f"{health.get_breaker_display()}: {health.consecutive_failures} failures in a row{probe}"
        return badge(health.breaker, text, BREAKER_TONES)

    @admin.display(description="limits")
    def limits(self, obj):
        """In flight at once and per second: its own, or the defaults (DELIVERY_PARTNER_*) it falls to."""
        rate = rate_of(obj)
        parts = [
            (obj.max_concurrency, f"{concurrency_of(obj)} at once"),
            (obj.max_per_second, f"{rate} /s" if rate else "no limit per second"),
        ]
        return ", ".join(text + ("" if own else " (default)") for own, text in parts)

    @admin.display(description="parked", ordering="parked_count")
    def parked(self, obj):
        """Deliveries waiting for the destination to be re-enabled; the actions replay or discard them."""
        count = getattr(obj, "parked_count", None)
        if count is None and obj.pk:
            count = obj.deliveries.filter(state=State.PARKED).count()
        if not count:
            return "-"
        url = reverse("admin:partners_delivery_changelist")
        query = urlencode({"state__exact": State.PARKED, "destination__id__exact": obj.pk})
        return format_html('<a href="{}?{}">{} waiting</a>', url, query, count)

    @admin.display(description="last delivery", ordering="last_state")
    def last_delivery_state(self, obj):
        return obj.last_state or "-"

    def changelist_view(self, request, extra_context=None):
        # GET only: after a POSTed action the redirect's GET shows it, so it never appears twice.
        if request.method == "GET":
            self._warn_auto_disabled(request)
        return super().changelist_view(request, extra_context)

    def _warn_auto_disabled(self, request):
        disabled = list(self.model.objects.filter(disabled_at__isnull=False).order_by("name")[: BANNER_NAMES + 1])
        if not disabled:
            return
        named = "; ".join(f"{d.name} ({d.disabled_reason or 'no reason recorded'})" for d in disabled[:BANNER_NAMES])
        more = " and more (filter by auto-disabled)" if len(disabled) > BANNER_NAMES else ""
        messages.warning(
            request,
            f"Auto-disabled, nothing is sent to them: {named}{more}. "
            f'Once the {self.model.kind} is fixed, select it and run "Re-enable".',
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
        cookie), never on the destination's page later."""
        secret = getattr(request, "new_signing_secret", None)
        if secret is None:
            return None
        context = {**self.admin_site.each_context(request), "partner": obj, "secret": secret, "opts": self.opts}
        response = render(request, "admin/partners/secret_once.html", context)
        add_never_cache_headers(response)
        response["Cache-Control"] += ", no-store"
        return response

    def has_delete_permission(self, request, obj=None):
        # Deliveries protect a destination that ever received one: offer "Deactivate" instead of a delete that fails.
        return False

    @admin.action(
        description="Re-enable the selected auto-disabled ones and replay what was parked", permissions=["change"]
    )
    def reenable(self, request, queryset):
        count, replayed = parking.reenable(queryset, replay=True)
        self.message_user(
            request,
            f"Re-enabled {count} {self.model.kind}(s); {replayed} parked deliveries are sent again, within each "
            "one's limits, and new conversions go out as they come.",
        )

    @admin.action(
        description="Re-enable the selected auto-disabled ones and discard what was parked (reason in the box)",
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
            f"Re-enabled {count} {self.model.kind}(s); {discarded} parked deliveries discarded (cancelled, with the "
            "reason); new conversions go out as they come.",
        )


class ReasonActionForm(ActionForm):
    reason = forms.CharField(
        required=False,
        label="reason:",
        widget=forms.TextInput(attrs={"placeholder": "why parked deliveries are discarded", "size": 30}),
        help_text="For re-enabling with discard: kept on each discarded delivery.",
    )


@admin.register(NetworkPostback)
class NetworkPostbackAdmin(DestinationAdmin):
    """Made and edited on its network's page (partners.admin_claims); here its deliveries' engine state."""

    action_form = ReasonActionForm
    list_display = ["name", "network", "is_active", "sending_state", "breaker", "limits", "parked"]
    list_display += ["last_delivery_state"]
    list_filter = ["is_active", AutoDisabledFilter]
    list_select_related = ["network", "health"]
    search_fields = ["name", "postback_url"]
    readonly_fields = ["network", *DestinationAdmin.readonly_fields]
    fieldsets = [
        (None, {"fields": ["name", "network", "is_active"]}),
        ("Template", {"fields": ["postback_url", "method", "body_template", "body_type", "headers"]}),
        ("Sending limits", {"fields": ["max_concurrency", "max_per_second"]}),
        ("Signing", {"fields": ["signing_secret", "generate_secret"]}),
        DestinationAdmin.state_fieldset,
    ]

    def has_add_permission(self, request):
        return False  # one per network, added on the network's page
