"""URLs of the test-postback tool: the admin page and its API."""

from django.urls import path

from postbacks_project.permissions import staff_page

from . import api, views

urlpatterns = [
    path("admin/test-postback/", staff_page(views.page, "testing_tools.send_test_postback"), name="test-postback"),
    path("api/admin/test-postback/send", api.send_batch, name="test-postback-send"),
    path("api/admin/test-postback/<uuid:batch>", api.batch_detail, name="test-postback-batch"),
    path("api/admin/test-postback/<uuid:batch>/cancel", api.batch_cancel, name="test-postback-cancel"),
]
