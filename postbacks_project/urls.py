"""URL map: landing page, admin and its tools, the partner portal, the receiver's endpoints, the API (index, schema,
docs), metrics."""

from django.conf import settings
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import APIRootView

from partners import api_urls as partner_api
from partners.system_status import system_status
from postbacks_project.permissions import requires
from receiver import api_urls as receiver_api

from .home import home
from .metrics_view import metrics

admin.site.site_header = "Postback hub"
admin.site.site_title = "Postback hub"
admin.site.index_title = "Control panel"

# /api/v1/ lists the collections of both apps' routers, as DRF's DefaultRouter would for one (staff only).
api_root = APIRootView.as_view(
    api_root_dict={
        prefix: f"{basename}-list"
        for prefix, _viewset, basename in receiver_api.router.registry + partner_api.router.registry
    },
    permission_classes=[requires()],
)

urlpatterns = [
    path("", home, name="home"),
    # Browsers ask for /favicon.ico whatever the page says; the SVG is a static file (collectstatic, whitenoise).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    # Before admin/, whose catch-all would otherwise answer for the tool's page.
    path("", include("testing_tools.urls")),
    path("", include("partners.urls")),
    path("admin/", admin.site.urls),
    path("portal/", include("partners.portal.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI loads its scripts from drf-spectacular-sidecar's static files, never a CDN. (No ReDoc page:
    # drf-spectacular's ReDoc template links Google Fonts.)
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/status/", system_status, name="api-status"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", api_root, name="api-root"),
    path("api/v1/", include("receiver.api_urls")),
    path("api/v1/", include("partners.api_urls")),
    path("api/partner/v1/", include("partners.portal.api_urls")),
    path("", include("receiver.urls")),
]

# An /api/ URL that matches no route (an id that is not a number, say) answers JSON like the rest of the API.
handler404 = "postbacks_project.api.not_found"

if settings.BENCHMARK_ENDPOINTS:
    urlpatterns.append(path("bench/", include("postbacks_project.bench_urls")))
