"""Standard Webhooks signatures that the reference library verifies."""

import base64
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook

from partners import signing


def test_a_generated_secret_has_the_whsec_form_and_enough_randomness():
    secret = signing.generate_secret()

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:])) >= 24
    assert secret != signing.generate_secret()


def test_the_reference_library_verifies_our_signature():
    secret = signing.generate_secret()
    body = json.dumps({"click_id": "c1"}).encode()

    headers = signing.headers(secret, "msg_123", int(time.time()), body)

    assert Webhook(secret).verify(body, headers) == {"click_id": "c1"}


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("abc", "starts with whsec_"),
        ("whsec_***", "not valid base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "at least 24"),
    ],
)
def test_a_malformed_secret_says_what_is_wrong(secret, problem):
    with pytest.raises(ValueError, match=problem):
        signing.secret_bytes(secret)
