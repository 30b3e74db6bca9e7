"""Signature recipes: each family signed exactly as its networks sign, checked by the receiver; tampering refused."""

import base64
import hashlib
import hmac
import json
from io import StringIO
from urllib.parse import quote_plus, urlencode

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from receiver.models import Conversion, Network, ReceivedPostback
from receiver.signatures import RecipeError, validate

pytestmark = pytest.mark.django_db
SECRET = "s3cr3t-from-the-network"
BASE = "http://127.0.0.1:8000"  # PUBLIC_BASE_URL in the tests


def signed_network(recipe, **fields):
    network = Network(name="Signed", hmac_secret=SECRET, signature=recipe, **fields)
    network.full_clean()
    network.save()
    return network


def stored():
    return ReceivedPostback.objects.order_by("-id").first()


def test_a_fields_recipe_checks_a_plain_md5_of_decoded_values_as_cpx_research_signs(client):
    network = signed_network(
        {"scheme": "fields", "algorithm": "md5", "template": "{trans_id}-{secret}", "in": "query:hash"},
        param_mapping={"click_id": "subid_1", "transaction_id": "trans_id"},
    )
    query = {"status": "1", "trans_id": "tx 1/é", "user_id": "u1", "subid_1": "c1", "amount_usd": "0.50"}
    query["hash"] = hashlib.md5(f"tx 1/é-{SECRET}".encode()).hexdigest().upper()  # hex in any case

    answer = client.get(f"/postback/{network.key}/", query).json()

    assert answer["success"] is True, answer
    conversion = Conversion.objects.get()
    assert conversion.transaction_id == "tx 1/é"
    assert "hash" not in conversion.custom_data


def test_a_url_recipe_checks_an_hmac_of_the_url_as_called_as_bitlabs_signs(client):
    network = signed_network(
        {"scheme": "url", "algorithm": "sha1", "in": "query:hash"}, param_mapping={"click_id": "uid"}
    )
    query = "uid=c1&tx=t-9&val=120&raw=0.60&type=COMPLETE"
    path = f"/postback/{network.key}/"
    digest = hmac.new(SECRET.encode(), f"{BASE}{path}?{query}".encode(), hashlib.sha1).hexdigest()

    answer = client.get(f"{path}?{query}&hash={digest}").json()

    assert answer["success"] is True, answer


def test_a_url_recipe_in_base64url_without_padding_as_theoremreach_signs(client):
    network = signed_network({"scheme": "url", "algorithm": "sha1", "encoding": "base64url", "in": "query:hash"})
    query = "click_id=c1&reward=50&tx_id=tr-1"
    path = f"/postback/{network.key}/"
    raw = hmac.new(SECRET.encode(), f"{BASE}{path}?{query}".encode(), hashlib.sha1).digest()
    signature = base64.urlsafe_b64encode(raw).decode().rstrip("=")

    assert client.get(f"{path}?{query}&hash={signature}").json()["success"] is True


def test_a_params_recipe_checks_sorted_pairs_in_a_header_as_ayetstudios_signs(client):
    network = signed_network(
        {"scheme": "params", "algorithm": "sha256", "in": "header:X-Ayetstudios-Security-Hash"},
        param_mapping={"click_id": "external_identifier"},
    )
    query = {"transaction_id": "a-1", "external_identifier": "c1", "currency_amount": "100", "offer_name": "Coin Rush"}
    message = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in sorted(query.items()))
    digest = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()

    answer = client.get(f"/postback/{network.key}/", query, headers={"x-ayetstudios-security-hash": digest}).json()

    assert answer["success"] is True, answer


def test_a_params_recipe_of_values_joined_by_colons_in_base64_as_pollfish_signs(client):
    names = ["cpa", "device_id", "request_uuid", "reward_name", "reward_value", "status", "timestamp", "tx_id"]
    network = signed_network(
        {
            "scheme": "params",
            "algorithm": "sha1",
            "encoding": "base64",
            "in": "query:signature",
            "names": names,
            "pairs": False,
            "separator": ":",
            "quote": "raw",
        },
        param_mapping={"click_id": "request_uuid", "transaction_id": "tx_id"},
        status_mapping={"eligible": "approved", "noteligible": "rejected"},
    )
    values = ["150", "dev-1", "c1", "Coins", "300", "eligible", "1767225600", "pf-1"]
    query = dict(zip(names, values, strict=True))
    raw = hmac.new(SECRET.encode(), ":".join(values).encode(), hashlib.sha1).digest()
    query["signature"] = base64.b64encode(raw).decode()

    assert client.get(f"/postback/{network.key}/?{urlencode(query)}").json()["success"] is True


def test_a_token_recipe_compares_the_secret_as_affise_sends_it(client):
    network = signed_network({"scheme": "token", "in": "query:secure"})

    accepted = client.get(f"/postback/{network.key}/", {"click_id": "c1", "secure": SECRET}).json()
    refused = client.get(f"/postback/{network.key}/", {"click_id": "c2", "secure": "guess"})

    assert accepted["success"] is True
    assert (refused.status_code, refused.json()["reason"]) == (401, "bad_signature")
    assert SECRET not in str(ReceivedPostback.objects.values_list("query", "params", "message"))


@pytest.mark.parametrize(
    ("query", "step"),
    [
        ({"trans_id": "t1", "subid_1": "c1", "amount": "9.99", "hash": "0" * 32}, "does not match the MD5 hex"),
        ({"trans_id": "t1", "subid_1": "c1"}, "no signature in query:hash"),
        ({"subid_1": "c1", "hash": "0" * 32}, "the template names {trans_id}, which the request does not carry"),
    ],
)
def test_a_tampered_missing_or_unmatched_signature_is_refused_with_the_step_that_failed(client, query, step):
    network = signed_network(
        {"scheme": "fields", "algorithm": "md5", "template": "{trans_id}-{secret}", "in": "query:hash"},
        param_mapping={"click_id": "subid_1"},
    )

    response = client.get(f"/postback/{network.key}/", query)

    assert (response.status_code, response.json()["reason"]) == (401, "bad_signature")
    assert step in response.json()["message"]
    row = stored()
    assert (row.reason, row.http_status) == ("bad_signature", 401)
    assert hashlib.md5(f"t1-{SECRET}".encode()).hexdigest() not in row.message
    assert not Conversion.objects.exists()


def test_a_replay_with_another_amount_is_refused(client):
    network = signed_network({"scheme": "url", "algorithm": "sha256", "in": "query:sig"})
    path, query = f"/postback/{network.key}/", "click_id=c1&payout=1.00&transaction_id=t1"
    digest = hmac.new(SECRET.encode(), f"{BASE}{path}?{query}".encode(), hashlib.sha256).hexdigest()

    assert client.get(f"{path}?{query}&sig={digest}").json()["success"] is True
    replay = client.get(f"{path}?{query.replace('1.00', '99.00')}&sig={digest}")

    assert replay.status_code == 401
    assert Conversion.objects.get().payout == 1


def test_a_network_with_a_secret_and_no_recipe_keeps_its_x_signature_check(client):
    network = Network.objects.create(name="Legacy", hmac_secret=SECRET)
    body = json.dumps({"click_id": "c1"}).encode()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    url = f"/postback/{network.key}/"

    good = client.post(url, body, content_type="application/json", headers={"x-signature": f"sha256={digest}"})
    bad = client.post(url, body, content_type="application/json", headers={"x-signature": "0" * 64})

    assert good.json()["success"] is True
    assert bad.status_code == 401


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ({"scheme": "rsa"}, "scheme 'rsa' is not one of"),
        ({"scheme": "url", "algorithm": "crc32", "in": "query:h"}, "algorithm 'crc32' is not one of"),
        ({"scheme": "fields", "in": "query:h"}, "a fields recipe needs a template"),
        ({"scheme": "url", "in": "cookie:h"}, "in 'cookie:h' is not query:NAME"),
        ({"scheme": "url", "in": "query:h", "encoding": "hexa"}, "encoding 'hexa' is not one of"),
        ({"scheme": "params", "in": "query:h", "names": []}, 'names is "all" or a list'),
        ({"scheme": "url", "in": "query:h", "extra": 1}, "unknown key 'extra'"),
        ("md5", "a signature recipe is a JSON object"),
    ],
)
def test_a_recipe_is_checked_when_it_is_saved(recipe, message):
    with pytest.raises(RecipeError, match=message):
        validate(recipe)


def test_a_recipe_that_signs_needs_the_networks_secret(db):
    network = Network(name="No secret", signature={"scheme": "url", "in": "query:hash"})

    with pytest.raises(ValidationError, match="needs the network's secret"):
        network.full_clean()


def test_create_network_takes_a_recipe_as_json(db):
    recipe = {"scheme": "fields", "algorithm": "md5", "template": "{oid}-{user_id}-{secret}", "in": "query:sig"}
    out = StringIO()

    call_command("create_network", "Torox", "--secret", SECRET, "--signature", json.dumps(recipe), "--json", stdout=out)

    network = Network.objects.get(name="Torox")
    assert network.signature["template"] == "{oid}-{user_id}-{secret}"
    with pytest.raises(CommandError, match="--signature"):
        call_command("create_network", "Bad", "--secret", SECRET, "--signature", "{not json", stdout=StringIO())
