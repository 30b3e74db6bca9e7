"""Receiver URLs: the postback endpoints of DESIGN.md, offer claims, click redirects, health."""

from django.urls import path

from . import views

urlpatterns = [
    path("postback/<str:key>/", views.postback, name="postback"),
    path("postback/<str:key>", views.postback),
    path("api/postback/", views.postback, name="api-postback"),
    path("api/postback", views.postback),
    path("api/postback/health", views.health, name="postback-health"),
    path("api/postback/health/", views.health),
    path("api/offers/<int:offer_id>/claim", views.claim, name="offer-claim"),
    path("api/offers/<int:offer_id>/claim/", views.claim),
    path("click/<int:offer_id>/", views.click, name="click"),
]
