"""Admin for the upstream side: networks and offers to manage, raw postbacks and conversions to inspect."""

from django.contrib import admin, messages
from django.db import models
from django.utils.html import format_html

from .models import (
    Click,
    Conversion,
    ConversionEvent,
    ExchangeRate,
    Network,
    NetworkClick,
    Offer,
    OfferMapping,
    PointsEntry,
    ReceivedPostback,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Logs are evidence: nobody adds, edits or deletes them from the admin."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Network)
class NetworkAdmin(admin.ModelAdmin):
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
    readonly_fields = ["postback_url", "key", "key_rotated_at", "has_claims", "created_at"]
    actions = ["rotate_keys"]

    @admin.display(description="postback URL to give the network")
    def postback_url(self, obj):
        return obj.postback_url() if obj.pk else "(saved networks only)"

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
class OfferAdmin(admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "network", "payout", "currency", "is_active", "created_at"]
    list_filter = ["is_active", "currency", "network"]
    search_fields = ["name", "url"]
    raw_id_fields = ["network"]
    date_hierarchy = "created_at"
    readonly_fields = ["click_url"]

    @admin.display(description="click URL for users")
    def click_url(self, obj):
        return obj.click_url() if obj.pk else "(saved offers only)"


@admin.register(Click)
class ClickAdmin(ReadOnlyAdmin):
    list_display = ["click_id", "offer", "user_id", "sub1", "ip", "created_at"]
    list_filter = ["offer__network"]
    search_fields = ["click_id", "user_id", "sub1", "sub2"]
    raw_id_fields = ["offer"]
    date_hierarchy = "created_at"


@admin.register(NetworkClick)
class NetworkClickAdmin(ReadOnlyAdmin):
    list_display = ["click_id", "network", "offer", "user_id", "created_at"]
    list_filter = ["network"]
    search_fields = ["click_id", "user_id"]
    raw_id_fields = ["network", "offer"]
    date_hierarchy = "created_at"


@admin.register(ReceivedPostback)
class ReceivedPostbackAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "received_at",
        "source",
        "network",
        "method",
        "outcome",
        "reason",
        "http_status",
        "click_id",
        "status",
        "payout",
        "remote_addr",
    ]
    list_filter = ["source", "outcome", "reason", "http_status", "method", "network"]
    search_fields = ["click_id", "remote_addr", "query", "message"]
    raw_id_fields = ["network", "conversion"]
    date_hierarchy = "received_at"
    exclude = ["body"]
    readonly_fields = ["body_text"]

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
class ConversionAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "network",
        "offer",
        "source",
        "click_id",
        "goal",
        "user_id",
        "status",
        "payout",
        "currency",
        "house_payout",
        "rate_state",
        "is_test",
    ]
    list_filter = ["status", "source", "conversion_type", "rate_state", "is_test", "network", "currency"]
    search_fields = ["click_id", "transaction_id", "conversion_id", "user_id", "goal"]
    raw_id_fields = ["network", "known_click", "offer", "network_click"]
    date_hierarchy = "created_at"
    inlines = [EventInline]


@admin.register(ConversionEvent)
class ConversionEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "conversion", "kind", "from_status", "to_status", "payout"]
    list_filter = ["kind", "to_status"]
    search_fields = ["conversion__click_id", "conversion__transaction_id"]
    raw_id_fields = ["conversion", "postback"]
    date_hierarchy = "created_at"


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "date", "rate"]
    list_filter = ["currency"]
    search_fields = ["currency"]
    date_hierarchy = "date"


@admin.register(OfferMapping)
class OfferMappingAdmin(admin.ModelAdmin):
    list_display = ["network", "parameter", "value", "offer"]
    list_filter = ["network", "parameter"]
    search_fields = ["value", "offer__name"]
    raw_id_fields = ["network", "offer"]


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "user_id", "delta", "reason", "conversion"]
    list_filter = ["reason"]
    search_fields = ["user_id", "conversion__click_id"]
    raw_id_fields = ["conversion", "event"]
    date_hierarchy = "created_at"
