"""The migration that masks the response headers attempts stored in clear (Set-Cookie reached the API)."""

import importlib

from django.apps import apps

from partners.models import DeliveryAttempt
from tests.partners.test_api import make_delivery, make_partner

migration = importlib.import_module("partners.migrations.0006_mask_stored_response_headers")


def test_stored_response_headers_with_secret_names_are_masked_and_the_rest_kept(network, token_client):
    delivery = make_delivery(make_partner("Pub"), network)
    clear = {"Set-Cookie": "session=0123456789abcdef", "Content-Type": "text/plain", "X-Auth-Token": "tok-98765"}
    attempt = DeliveryAttempt.objects.create(
        delivery=delivery, number=1, url="https://p.example/", response_headers=clear
    )
    untouched = DeliveryAttempt.objects.create(delivery=delivery, number=2, url="https://p.example/")

    migration.mask_stored(apps, None)

    attempt.refresh_from_db()
    assert attempt.response_headers["content-type"] == "text/plain"
    assert "0123456789abcdef" not in str(attempt.response_headers)
    assert "tok-98765" not in str(attempt.response_headers)
    assert "0123456789abcdef" not in token_client.get(f"/api/v1/deliveries/{delivery.pk}/").content.decode()
    untouched.refresh_from_db()
    assert untouched.response_headers == {}
