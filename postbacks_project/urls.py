"""URL map: admin, the receiver's public endpoints, and (opt-in) benchmark baselines."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Postback hub"
admin.site.site_title = "Postback hub"
admin.site.index_title = "Control panel"

urlpatterns = [path("admin/", admin.site.urls), path("", include("receiver.urls"))]

if settings.BENCHMARK_ENDPOINTS:
    urlpatterns.append(path("bench/", include("postbacks_project.bench_urls")))
