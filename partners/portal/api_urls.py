"""Routes of the partner API, under /api/partner/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.trailing_slash = "/?"
router.register("deliveries", api.DeliveryViewSet, basename="partner-delivery")

urlpatterns = [
    path("partner", api.partner_settings, name="partner-api-settings"),
    path("stats", api.partner_stats, name="partner-api-stats"),
    *router.urls,
]
