"""URLs of the partners app outside the model admin: the stats dashboard, and the demo partner's sink."""

from django.urls import path

from postbacks_project.permissions import staff_page

from . import dashboard, demo

urlpatterns = [
    path("admin/stats/", staff_page(dashboard.page, "partners.view_dashboard"), name="stats-dashboard"),
    path("demo/sink/", demo.sink, name="demo-sink"),
]
