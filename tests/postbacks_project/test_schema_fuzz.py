"""Schemathesis against our OpenAPI schema: the staff API never fails with a 500 and answers as the schema says."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from partners import outbox
from partners.models import Delivery, DeliveryAttempt, Partner
from receiver.views import postback
from testing_tools.services import schedule_batch

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application()).include(
    path_regex=r"^/api/(v1|admin/test-postback)/"
)


@pytest.fixture(autouse=True)
def _requests_keep_the_test_connection():
    # The WSGI handler closes the database connection when a request ends, and the test's transaction lives on
    # it: as Django's test client does, leave the connection alone while the test runs.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def rows(rf, click, admin_user):
    """One row of every kind the API lists, made the way production makes them, so that bodies get checked too."""
    partner = Partner.objects.create(name="Pub", slug="pub", postback_url="https://p.example/pb?c={click_id}")
    # A conversion, then a status change: two events, two deliveries. (The view itself: Django's test client
    # would reconnect the connection-closing signals that the fixture above holds off.)
    for status in ("pending", "approved"):
        query = {"click_id": click.click_id, "transaction_id": "t1", "payout": "1.5", "status": status}
        postback(rf.get("/api/postback/", query), key=click.offer.network.key)
    outbox.route()  # the worker's part: the events' deliveries
    DeliveryAttempt.objects.create(
        delivery=Delivery.objects.first(), number=1, url="https://p.example/pb?c=x", method="GET", response_status=500
    )
    row = {"partner": partner, "username": "u", "offer_name": "o", "points": 5, "status": "approved"}
    schedule_batch([{**row, "payout": None, "delay_minutes": 0}], admin_user)


@pytest.fixture
def staff_token(admin_user):
    return Token.objects.create(user=admin_user).key


# 25 examples per operation (on top of schemathesis's own coverage cases) keep the file at about half a minute.
# The fixtures are set up once for all of an operation's examples, which is what we want of them.
@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_api_answers_as_its_schema_says(case, rows, staff_token):
    # Not positive_data_acceptance: the schema cannot say which ids exist, and a valid-looking unknown one is a 400.
    unknowable = [schemathesis.checks.positive_data_acceptance]
    case.call_and_validate(headers={"Authorization": f"Token {staff_token}"}, excluded_checks=unknowable)
