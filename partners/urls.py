"""URLs of the partners app's admin pages outside the model admin: the stats dashboard."""

from django.urls import path

from postbacks_project.permissions import staff_page

from . import dashboard

urlpatterns = [path("admin/stats/", staff_page(dashboard.page, "partners.view_dashboard"), name="stats-dashboard")]
