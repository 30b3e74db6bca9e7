"""URL map: admin and its tools, the receiver's endpoints, the API with its schema and docs, (opt-in) benchmarks."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from partners.status import system_status

admin.site.site_header = "Postback hub"
admin.site.site_title = "Postback hub"
admin.site.index_title = "Control panel"

urlpatterns = [
    # Before admin/, whose catch-all would otherwise answer for the tool's page.
    path("", include("testing_tools.urls")),
    path("", include("partners.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI loads its scripts from drf-spectacular-sidecar's static files, never a CDN. (No ReDoc page:
    # drf-spectacular's ReDoc template links Google Fonts.)
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/status/", system_status, name="api-status"),
    path("api/v1/", include("receiver.api_urls")),
    path("api/v1/", include("partners.api_urls")),
    path("", include("receiver.urls")),
]

# An /api/ URL that matches no route (an id that is not a number, say) answers JSON like the rest of the API.
handler404 = "postbacks_project.api.not_found"

if settings.BENCHMARK_ENDPOINTS:
    urlpatterns.append(path("bench/", include("postbacks_project.bench_urls")))
