"""Admin for the upstream side: networks and offers to manage, raw postbacks and conversions to inspect."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_permission_codename
from django.db import models
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from postbacks_project.admin_extensions import ExtensibleAdmin, Extensions
from postbacks_project.admin_forms import DecimalsAsWritten, DecimalsAsWrittenInLists, deactivate, normalise_decimals
from postbacks_project.admin_scale import BigTableAdmin, choices_filter, recent_filter
from postbacks_project.badges import BAD, OK, WAIT, badge
from postbacks_project.masking import mask_secret
from postbacks_project.permissions import staff_page

from . import presets, sample
from .lifecycle import Status
from .models import (
    Click,
    Conversion,
    ConversionEvent,
    ExchangeRate,
    Network,
    NetworkClick,
    Offer,
    OfferMapping,
    Outcome,
    PointsEntry,
    ReceivedPostback,
)
from .params import FIELDS

# What a network without a mapping is asked to send, in our own names.
PANEL_FIELDS = ("click_id", "transaction_id", "payout", "status")
PLACEHOLDER_NOTE = (
    "Each {name} stands for the value the network fills in. {name} is the generic syntax: where the network's panel "
    "writes its macros otherwise (e.g. [name], %name% or ##name##), write them its way."
)


def panel_names(network):
    """The network's parameter names the URL asks for, in FIELDS order, then the signature's if it rides the query."""
    mapping = network.param_mapping or {}
    names = [mapping[field] for field in FIELDS if field in mapping] or list(PANEL_FIELDS)
    if "click_id" not in mapping and "click_id" not in names:
        names.insert(0, "click_id")  # required: unmapped, the network sends it under our name
    place, _, name = network.recipe.get("in", "").partition(":")
    if place == "query":
        names.append(name)
    return list(dict.fromkeys(names))


def panel_url(network):
    """The postback URL a network pastes into its panel: its own parameter names, each with its preset's placeholder
    where the preset records one, else the generic {name}; one the network appends by itself is left out."""
    own, _, _ = presets.placeholders(network.preset)
    query = "&".join(
        f"{name}={own.get(name) or '{' + name + '}'}" for name in panel_names(network) if own.get(name, "") is not None
    )
    # A network that appends every parameter itself (Tapjoy, DT) is given the bare URL.
    return f"{network.postback_url()}?{query}" if query else network.postback_url()


def placeholder_note(network):
    """Which placeholders of the URL are the network's own syntax, from where, and which are generic."""
    own, docs, source = presets.placeholders(network.preset)
    names = panel_names(network)
    generic = [name for name in names if name not in own]
    if len(generic) == len(names):
        return PLACEHOLDER_NOTE
    network_name = presets.preset(network.preset)["name"]
    if source == "documented":
        note = f"The placeholders are written as {network_name} documents them ({docs})"
    else:
        note = f"The placeholders are written as third-party integrations of {network_name} write them ({docs})"
    if generic:
        braces = ", ".join(f"{{{name}}}" for name in generic)
        note += f", except {braces}: generic, to rewrite in its panel's syntax if it differs"
    appended = [name for name in names if name in own and own[name] is None]
    if appended:
        note += f". Left out: {', '.join(appended)}, which {network_name} appends by itself"
    if source != "documented":
        note += f". Check them against {network_name}'s own docs"
    return note + "."


# What the apps built on ours add to these pages (partners: a network's outgoing postback, a conversion's trace).
network_page = Extensions()
conversion_page = Extensions()

# What the receiver answers and why it refuses, fixed here so that a filter never reads the distinct values of a table.
HTTP_STATUSES = [(code, str(code)) for code in (200, 400, 401, 403, 404, 405, 411, 413, 429, 500, 503)]
METHODS = [("GET", "GET"), ("POST", "POST")]
REASONS = [
    (reason, reason.replace("_", " "))
    for reason in (
        "unknown_click",
        "unknown_key",
        "missing_key",
        "inactive_network",
        "bad_signature",
        "bad_token",
        "missing_token",
        "unsigned_parameters",
        "unsigned_payout_change",
        "missing_click_id",
        "missing_user_id",
        "invalid_payout",
        "invalid_status",
        "invalid_currency",
        "invalid_input",
        "invalid_query",
        "invalid_form",
        "invalid_json",
        "invalid_charset",
        "incomplete_body",
        "unreadable_request",
        "ip_not_allowed",
        "forbidden",
        "unknown_offer",
        "inactive_offer",
        "unknown_original",
        "status_transition_refused",
        "test_on_real_conversion",
        "method_not_allowed",
        "length_required",
        "body_too_large",
        "rate_limited",
        "internal_error",
    )
]

# A click id or hash shown in a list is cut to this, the whole one on hover: rows stay one line high.
ID_SHOWN = 12
OUTCOME_TONES = {
    Outcome.ACCEPTED: OK,
    Outcome.STATUS_CHANGE: OK,
    Outcome.ADJUSTMENT: OK,
    Outcome.DUPLICATE: WAIT,
    Outcome.REJECTED: BAD,
}
STATUS_TONES = {Status.APPROVED: OK, Status.PENDING: WAIT, Status.REJECTED: BAD, Status.REVERSED: BAD}


def short_id(text):
    """A long id cut to its start, the whole of it in the title."""
    if len(text) <= ID_SHOWN:
        return text
    return format_html('<span title="{}">{}…</span>', text, text[: ID_SHOWN - 1])


class ReadOnlyAdmin(BigTableAdmin):
    """Logs are evidence: nobody adds, edits or deletes them from the admin. They are the big tables, too."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class NetworkForm(forms.ModelForm):
    """The secret is write-only: the admin pastes it, and no page shows it again."""

    remove_secret = forms.BooleanField(
        required=False, label="remove the secret", help_text="On save, the network has no secret any more."
    )

    class Meta:
        widgets = {"hmac_secret": forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        normalise_decimals(self)
        field = self.fields.get("hmac_secret")
        if field is not None and self.instance.hmac_secret:
            stored = f"A secret is stored ({mask_secret(self.instance.hmac_secret)}); leave this empty to keep it. "
            field.help_text = stored + field.help_text

    def clean(self):
        cleaned = super().clean()
        # Runs before the model's own clean, which must see the secret that will be saved.
        if cleaned.get("remove_secret"):
            cleaned["hmac_secret"] = ""
        elif "hmac_secret" in cleaned and not cleaned["hmac_secret"]:
            cleaned["hmac_secret"] = self.instance.hmac_secret
        return cleaned


class SampleForm(forms.Form):
    """A postback as the network would send it, to check against the network's recipe and secret."""

    url = forms.CharField(label="Postback URL", max_length=8000, widget=forms.Textarea(attrs={"rows": 2, "cols": 100}))
    headers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 100}),
        help_text="Optional, one per line as Name: value, e.g. X-Signature: 3f2a… or Content-Type: application/json.",
    )
    body = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 100}),
        help_text="Optional; with a body the sample is a POST. Give a form body its Content-Type header line.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["url"].help_text = (
            "As the network would call it, signature included. Only its path and query count: a recipe that signs "
            f"the whole URL takes the scheme and host from PUBLIC_BASE_URL ({settings.PUBLIC_BASE_URL})."
        )

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        if not url.startswith(("/", "http://", "https://")):
            raise forms.ValidationError("Paste the whole URL (https://…/postback/KEY/?…) or its path from /postback/.")
        return url

    def clean_headers(self):
        try:
            return sample.parse_headers(self.cleaned_data["headers"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_body(self):
        # Browsers send a textarea's line ends as CRLF, whatever was pasted; a network's body ends them with LF.
        return self.cleaned_data["body"].replace("\r\n", "\n").encode()


@admin.register(Network)
class NetworkAdmin(ExtensibleAdmin):
    extensions = network_page
    form = NetworkForm
    list_display = [
        "name",
        "is_active",
        "masked_key",
        "require_known_click",
        "allow_reapproval",
        "has_signature",
        "has_claims",
        "created_at",
    ]
    list_filter = ["is_active", "require_known_click", "allow_reapproval", "has_claims"]
    search_fields = ["name"]
    date_hierarchy = "created_at"
    readonly_fields = ["postback_url", "preset", "key", "key_rotated_at", "has_claims", "created_at"]
    actions = [deactivate, "rotate_keys"]
    # The key is drawn when the network is saved: an add page showing one would show another than the one saved.
    # So is its creation time (the page's load, not the save).
    not_on_add = ("postback_url", "preset", "key", "key_rotated_at", "created_at")

    def has_delete_permission(self, request, obj=None):
        # Offers, clicks and conversions protect a network: offer "Deactivate" instead of a delete that fails.
        return False

    def get_urls(self):
        permission = f"{self.opts.app_label}.{get_permission_codename('change', self.opts)}"
        verify = path(
            "<path:object_id>/verify-sample/",
            staff_page(self.verify_sample_view, permission),
            name=f"{self.opts.app_label}_{self.opts.model_name}_verify_sample",
        )
        # Before the defaults: their "<path:object_id>/" would swallow it.
        return [verify, *super().get_urls()]

    def get_fields(self, request, obj=None):
        fields = [name for name in super().get_fields(request, obj) if name != "remove_secret"]
        if obj is None:
            return [name for name in fields if name not in self.not_on_add]
        if obj is not None and not self.has_change_permission(request, obj):
            # A view-only page prints every field's value: the secret is shown masked instead.
            return ["stored_secret" if name == "hmac_secret" else name for name in fields]
        if obj is not None and obj.hmac_secret and "hmac_secret" in fields:
            fields.insert(fields.index("hmac_secret") + 1, "remove_secret")
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            return [*readonly, "stored_secret"]
        return readonly

    @admin.display(description="secret")
    def stored_secret(self, obj):
        return mask_secret(obj.hmac_secret) or "(none)"

    def add_view(self, request, form_url="", extra_context=None):
        slug = request.GET.get("preset", "")
        chosen = presets.all_presets().get(slug)
        if slug and chosen is None and request.method == "GET":
            self.message_user(request, f"There is no preset {slug!r}: choose one from the list.", messages.ERROR)
            return HttpResponseRedirect(request.path)
        context = {
            "presets": presets.all_presets().values(),
            "preset": chosen,
            "preset_source": presets.SOURCES.get(chosen["source"], "") if chosen else "",
        }
        return super().add_view(request, form_url, {**(extra_context or {}), **context})

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        chosen = presets.all_presets().get(request.GET.get("preset", ""))
        if chosen is None:
            return initial
        # The preset's own fields, however many presets.FIELDS names: apply() is the one that knows them.
        network = presets.apply(Network(), chosen["slug"])
        initial.update({name: getattr(network, name) for name in presets.FIELDS if name in chosen["settings"]})
        initial.setdefault("name", chosen["name"])
        return initial

    def save_model(self, request, obj, form, change):
        # The add form posts back to its own URL, ?preset= included: the network remembers where it started.
        if not change and request.GET.get("preset", "") in presets.all_presets():
            obj.preset = request.GET["preset"]
        super().save_model(request, obj, form, change)

    def response_post_save_add(self, request, obj):
        # Its page shows the URL to paste into the network's panel, which the list does not.
        return HttpResponseRedirect(
            reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.pk])
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = {"sample_form": SampleForm()}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **context})

    def verify_sample_view(self, request, object_id):
        """Check a pasted postback against the network's recipe and stored secret; the box alone for fetch()."""
        network = self.get_object(request, unquote(object_id))
        if network is None:
            raise Http404("no such network")
        form = SampleForm(request.POST if request.method == "POST" else None)
        verdict = None
        if form.is_valid():
            data = form.cleaned_data
            verdict = sample.check(network, data["url"], data["headers"], data["body"])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": network,
            "title": f"Verify a sample postback for {network}",
            "sample_form": form,
            "verdict": verdict,
        }
        box = "box" in request.GET
        template = (
            "admin/receiver/network/verify_sample_box.html" if box else "admin/receiver/network/verify_sample.html"
        )
        return TemplateResponse(request, template, context)

    @admin.display(description="postback URL to give the network")
    def postback_url(self, obj):
        return format_html(
            '<code id="panel-url" class="panel-url">{}</code> '
            '<button type="button" class="button" data-copy="panel-url">Copy</button>'
            '<div class="help">{} Without parameters: {}</div>',
            panel_url(obj),
            placeholder_note(obj),
            obj.postback_url(),
        )

    @admin.display(description="signature")
    def has_signature(self, obj):
        return obj.recipe["scheme"]

    @admin.action(description="Rotate the postback key of the selected networks")
    def rotate_keys(self, request, queryset):
        for network in queryset:
            network.rotate_key()
        self.message_user(
            request, f"Rotated {queryset.count()} key(s); give each network its new postback URL.", messages.WARNING
        )


@admin.register(Offer)
class OfferAdmin(DecimalsAsWrittenInLists, admin.ModelAdmin):
    form = DecimalsAsWritten
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "network", "payout", "currency", "is_active", "created_at"]
    list_filter = ["is_active", "currency", "network"]
    search_fields = ["name", "url"]
    autocomplete_fields = ["network"]  # a searchable select of network names, not a bare id box
    date_hierarchy = "created_at"
    readonly_fields = ["click_url"]

    @admin.display(description="click URL for users")
    def click_url(self, obj):
        return obj.click_url() if obj.pk else "(saved offers only)"


@admin.register(Click)
class ClickAdmin(ReadOnlyAdmin):
    list_display = ["click_id", "offer", "user_id", "sub1", "ip", "created_at"]
    list_filter = [recent_filter("created_at", "made"), "offer__network"]
    # Exact matches on indexed columns: a substring search reads every row.
    search_fields = ["click_id__exact", "user_id__exact", "partner_slug__exact"]
    list_select_related = ["offer__network"]  # an offer is shown with its network's name
    autocomplete_fields = ["offer"]


@admin.register(NetworkClick)
class NetworkClickAdmin(ReadOnlyAdmin):
    list_display = ["click_id", "network", "offer", "user_id", "created_at"]
    list_filter = [recent_filter("created_at", "made"), "network"]
    search_fields = ["click_id__exact", "user_id__exact"]
    list_select_related = ["network", "offer__network"]
    autocomplete_fields = ["network", "offer"]


@admin.register(ReceivedPostback)
class ReceivedPostbackAdmin(DecimalsAsWrittenInLists, ReadOnlyAdmin):
    # Source, method and address are filters and search terms; the columns keep what an admin reads at 1366 px.
    list_display = ["id", "received_at", "outcome_badge", "reason", "code", "click", "status", "payout", "network"]
    list_filter = [
        recent_filter("received_at", "received"),
        "source",
        "outcome",
        choices_filter("reason", "reason", REASONS),
        choices_filter("http_status", "HTTP status", HTTP_STATUSES),
        choices_filter("method", "method", METHODS),
        "network",
    ]
    search_fields = ["click_id__exact"]
    search_help_text = "The exact click id."
    list_select_related = ["network"]
    autocomplete_fields = ["network", "conversion"]
    exclude = ["body"]
    readonly_fields = ["body_text"]

    @admin.display(description="outcome", ordering="outcome")
    def outcome_badge(self, obj):
        return badge(obj.outcome, obj.outcome, OUTCOME_TONES)

    @admin.display(description="code", ordering="http_status")
    def code(self, obj):
        return obj.http_status

    @admin.display(description="click id", ordering="click_id")
    def click(self, obj):
        return short_id(obj.click_id)

    @admin.display(description="body")
    def body_text(self, obj):
        text = bytes(obj.body).decode("utf-8", errors="replace")
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", text or "(empty)")


class EventInline(admin.TabularInline):
    model = ConversionEvent
    extra = 0
    fields = ["created_at", "kind", "from_status", "to_status", "payout", "postback"]
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("postback")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Conversion)
class ConversionAdmin(DecimalsAsWrittenInLists, ExtensibleAdmin, ReadOnlyAdmin):
    """Other apps' panels (the partners' trace) come first; the conversion's fields, mostly empty, fold below them.

    The panels sit above the form, not in it, so that a panel's buttons can be forms of their own.
    """

    extensions = conversion_page
    change_form_template = "admin/receiver/conversion/change_form.html"
    # Status and payout first, so they are on a 1366 px screen beside the sidebar and filters; the click id cut short.
    list_display = [
        "id",
        "created_at",
        "status_badge",
        "payout",
        "currency",
        "click",
        "network",
        "offer",
        "source",
        "goal",
        "user_id",
        "house_payout",
        "rate_state",
        "is_test",
    ]
    list_filter = [recent_filter("created_at", "made"), "status", "source", "rate_state", "is_test", "network"]
    search_fields = ["click_id__exact", "transaction_id__exact", "user_id__exact"]
    search_help_text = "The exact click id, transaction id or user id."
    list_select_related = ["network", "offer__network"]
    autocomplete_fields = ["network", "known_click", "offer", "network_click"]
    inlines = [EventInline]

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, obj.status, STATUS_TONES)

    @admin.display(description="click id", ordering="click_id")
    def click(self, obj):
        return short_id(obj.click_id)

    def get_fieldsets(self, request, obj=None):
        if obj is None or not self.extensions.panels:
            return super().get_fieldsets(request, obj)
        return [("Conversion fields", {"fields": self.get_fields(request, obj), "classes": ["collapse"]})]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        conversion = self.get_object(request, unquote(object_id))
        panels = self.panels(request, conversion) if conversion is not None else []
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "panels": panels})


@admin.register(ConversionEvent)
class ConversionEventAdmin(DecimalsAsWrittenInLists, ReadOnlyAdmin):
    list_display = ["id", "created_at", "conversion", "kind", "from_status", "to_status", "payout"]
    list_filter = [recent_filter("created_at", "made"), "kind", "to_status"]
    search_fields = ["conversion__click_id__exact", "conversion__transaction_id__exact"]
    search_help_text = "The conversion's exact click id or transaction id."
    list_select_related = ["conversion"]
    autocomplete_fields = ["conversion", "postback"]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(DecimalsAsWrittenInLists, admin.ModelAdmin):
    list_display = ["currency", "date", "rate"]
    list_filter = ["currency"]
    search_fields = ["currency"]
    date_hierarchy = "date"


@admin.register(OfferMapping)
class OfferMappingAdmin(admin.ModelAdmin):
    list_display = ["network", "parameter", "value", "offer"]
    list_filter = ["network", "parameter"]
    search_fields = ["value", "offer__name"]
    autocomplete_fields = ["network", "offer"]


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "user_id", "delta", "reason", "conversion"]
    list_filter = [recent_filter("created_at", "made")]
    search_fields = ["user_id__exact", "conversion__click_id__exact"]
    search_help_text = "The exact user id or the conversion's click id."
    list_select_related = ["conversion"]
    autocomplete_fields = ["conversion", "event"]
