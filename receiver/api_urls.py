"""Routes of the receiver's API, included under /api/v1/ by the project's URL map."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
# Optional trailing slash: /api/v1/offers and /api/v1/offers/ both answer (a POST cannot follow a redirect).
router.trailing_slash = "/?"
router.register("networks", api.NetworkViewSet, basename="network")
router.register("offers", api.OfferViewSet, basename="offer")
router.register("clicks", api.ClickViewSet, basename="click")
router.register("conversions", api.ConversionViewSet, basename="conversion")
router.register("received-postbacks", api.ReceivedPostbackViewSet, basename="received-postback")

urlpatterns = router.urls
