"""The alerts list: open and past alerts, read-only (they are a record of what the checks saw)."""

from django.contrib import admin

from .models import Alert


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "open"), ("closed", "closed")]

    def queryset(self, request, queryset):
        if self.value() in ("open", "closed"):
            return queryset.filter(closed_at__isnull=self.value() == "open")
        return queryset


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["label", "key", "opened_at", "closed_at", "last_message"]
    list_filter = ["kind", OpenFilter]
    search_fields = ["key", "last_message"]
    date_hierarchy = "opened_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
