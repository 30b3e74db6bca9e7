"""URL map: admin and its tools, the receiver's public endpoints, the API schema, and (opt-in) benchmark baselines."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

admin.site.site_header = "Postback hub"
admin.site.site_title = "Postback hub"
admin.site.index_title = "Control panel"

urlpatterns = [
    # Before admin/, whose catch-all would otherwise answer for the tool's page.
    path("", include("testing_tools.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("", include("receiver.urls")),
]

if settings.BENCHMARK_ENDPOINTS:
    urlpatterns.append(path("bench/", include("postbacks_project.bench_urls")))
