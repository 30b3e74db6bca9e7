"""Admin for test postbacks, and the "Send test postback" action that testing_tools.apps adds to the partner list."""

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from . import services
from .models import TestPostback
from .serializers import TestRowSerializer


@admin.register(TestPostback)
class TestPostbackAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "batch_link",
        "position",
        "partner",
        "username",
        "offer_name",
        "state",
        "response_status",
        "duration_ms",
        "error",
    ]
    list_filter = ["state", "partner", "response_status"]
    search_fields = ["batch", "username", "offer_name", "url", "error"]
    autocomplete_fields = ["partner", "created_by"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description="batch")
    def batch_link(self, obj):
        return format_html('<a href="{}?batch={}">{}</a>', reverse("test-postback"), obj.batch, str(obj.batch)[:8])

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.action(description="Send test postback")
def send_test_postback(modeladmin, request, queryset):
    """One test postback, sent now, to each selected partner; then the tool's page with its live log."""
    if not request.user.has_perm("testing_tools.send_test_postback"):
        # Listed for everyone who sees partners; refused here, where the permission is known, with what is missing.
        message = "Sending test postbacks needs the permission testing_tools.send_test_postback."
        modeladmin.message_user(request, message, messages.ERROR)
        return None
    rows = TestRowSerializer(data=[{"partner_id": partner.pk} for partner in queryset], many=True)
    if not rows.is_valid():
        modeladmin.message_user(request, f"Could not schedule: {rows.errors}", messages.ERROR)
        return None
    batch = services.schedule_batch(rows.validated_data, request.user)
    return redirect(f"{reverse('test-postback')}?batch={batch}")
