"""Standard Webhooks signatures that the reference library verifies, and the {signature} of a GET's URL."""

import base64
import hashlib
import hmac
import json
import time
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest
from standardwebhooks.webhooks import Webhook

from partners import signing
from partners.macros import sample_values
from partners.models import Partner
from partners.outbound import build_request
from receiver import signatures


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


SIGNED_URL = "https://p.example/pb/{user_id}?click={click_id}&amount={payout}&ts={signature_ts}&sig={signature}&s=1"


def signed_partner(url=SIGNED_URL):
    return Partner(name="GET partner", postback_url=url, signing_secret=signing.generate_secret())


def sent_url(partner, timestamp=1767225600, **changes):
    return build_request(partner, {**sample_values(partner), **changes}, "msg_1", timestamp).url


def independent_signature(secret, url):
    """The recipe as the partner guide states it, written apart from the hub's code."""
    address = url.split("#")[0]
    base, _, query = address.partition("?")
    rest = "&".join(part for part in query.split("&") if part and not part.startswith("sig="))
    message = f"{base}?{rest}" if rest else base
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_the_url_signature_verifies_with_an_independent_hmac_over_the_url_without_it():
    partner = signed_partner()

    url = sent_url(partner)

    given = dict(parse_qsl(urlsplit(url).query))["sig"]
    assert given == independent_signature(partner.signing_secret, url)
    assert len(given) == 64
    assert "&ts=1767225600&sig=" in url
    assert url.endswith("&s=1")


def test_our_own_receivers_url_recipe_verifies_it(settings):
    partner = signed_partner()
    url = sent_url(partner)
    parts = urlsplit(url)
    settings.PUBLIC_BASE_URL = f"{parts.scheme}://{parts.netloc}"
    inbound = SimpleNamespace(
        raw_path=parts.path, query_string=parts.query, query=dict(parse_qsl(parts.query)), header=lambda name: None
    )
    recipe = signatures.validate({"scheme": "url", "in": "query:sig", "algorithm": "sha256", "encoding": "hex"})

    signatures.verify(recipe, partner.signing_secret, inbound, inbound.query)


@pytest.mark.parametrize(
    "changes",
    [{"click_id": "other"}, {"payout": "9.99"}, {"user_id": "user-10"}, {"timestamp": 1767225601}],
    ids=["query value", "amount", "path value", "signature time"],
)
def test_the_signature_changes_when_any_value_in_the_url_changes(changes):
    partner = signed_partner()
    timestamp = changes.pop("timestamp", 1767225600)

    before, after = sent_url(partner), sent_url(partner, timestamp, **changes)

    assert before != after
    signature = dict(parse_qsl(urlsplit(after).query))["sig"]
    assert signature != dict(parse_qsl(urlsplit(before).query))["sig"]
    assert signature == independent_signature(partner.signing_secret, after)


def test_the_signature_is_keyed_with_the_partners_secret():
    partner, other = signed_partner(), signed_partner()
    other.signing_secret = signing.generate_secret()

    assert sent_url(partner) != sent_url(other)


def test_a_value_that_looks_like_the_signature_parameter_stays_a_value():
    partner = signed_partner()

    url = sent_url(partner, click_id="x&sig=forged")

    assert "click=x%26sig%3Dforged&" in url
    assert dict(parse_qsl(urlsplit(url).query))["sig"] == independent_signature(partner.signing_secret, url)
