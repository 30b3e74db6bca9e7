"""Admin for partners."""

from django.contrib import admin
from django.db import models

from .models import Partner


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "is_active", "postback_url", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "postback_url"]
    date_hierarchy = "created_at"
