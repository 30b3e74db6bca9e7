"""Routes of the partners' API, included under /api/v1/ by the project's URL map."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
# Optional trailing slash: /api/v1/deliveries/7/resend and .../resend/ both answer (a POST cannot follow a redirect).
router.trailing_slash = "/?"
router.register("partners", api.PartnerViewSet, basename="partner")
router.register("deliveries", api.DeliveryViewSet, basename="delivery")

urlpatterns = router.urls
