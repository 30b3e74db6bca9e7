"""URLs of the test-postback tool: the admin page and its API."""

from django.contrib import admin
from django.urls import path

from . import api, views

urlpatterns = [
    path("admin/test-postback/", admin.site.admin_view(views.page), name="test-postback"),
    path("api/admin/test-postback/send", api.send_batch, name="test-postback-send"),
    path("api/admin/test-postback/<uuid:batch>", api.batch_detail, name="test-postback-batch"),
    path("api/admin/test-postback/<uuid:batch>/cancel", api.batch_cancel, name="test-postback-cancel"),
]
