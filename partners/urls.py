"""URLs of the partners app's admin pages outside the model admin: the stats dashboard."""

from django.contrib import admin
from django.urls import path

from . import dashboard

urlpatterns = [path("admin/stats/", admin.site.admin_view(dashboard.page), name="stats-dashboard")]
