"""Network writes on /api/v1/networks/: from a preset or from scratch, the admin's checks, a write-only secret."""

import hashlib
import json
import logging
import re
import shlex
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from receiver import presets
from receiver.models import Conversion, Network
from tests.support.permissions import staff_with

SECRET = "cpx-secret-0123456789abcdef"
CPX = presets.preset("cpx-research")["settings"]
README = Path(__file__).resolve().parents[2] / "README.md"
# The README's network-creating curl, and the answer it states in the JSON block after it.
CREATE_EXAMPLE = re.compile(r"```sh\n(curl [^`]*?/api/v1/networks/[^`]*?)```\n(?:(?!```).)*?```json\n(.*?)```", re.S)


def post(client, body, **extra):
    return client.post("/api/v1/networks/", body, content_type="application/json", **extra)


def patch(client, network, body):
    return client.patch(f"/api/v1/networks/{network.pk}/", body, content_type="application/json")


def token_of(user):
    return Client(headers={"authorization": f"Token {Token.objects.create(user=user).key}"})


def test_staff_create_a_network_from_a_preset_with_its_secret(admin_client):
    response = post(admin_client, {"name": "CPX", "preset": "cpx-research", "secret": SECRET})

    assert response.status_code == 201, response.content
    network = Network.objects.get(pk=response.json()["id"])
    assert network.hmac_secret == SECRET
    assert (network.signature, network.param_mapping, network.status_mapping) == (
        CPX["signature"],
        CPX["param_mapping"],
        CPX["status_mapping"],
    )
    assert network.default_currency == CPX["default_currency"]
    assert len(network.key) >= 32
    assert response.json()["signature"] == CPX["signature"]
    assert response.json()["masked_key"] == network.masked_key
    assert response.json()["preset"] == "cpx-research"


def test_the_new_network_accepts_a_postback_signed_as_its_preset_says(admin_client, client):
    created = post(admin_client, {"name": "CPX", "preset": "cpx-research", "secret": SECRET}).json()
    network = Network.objects.get(pk=created["id"])
    signed = hashlib.md5(f"tx-1-{SECRET}".encode()).hexdigest()

    response = client.get(f"/postback/{network.key}/", {"trans_id": "tx-1", "status": "1", "hash": signed})

    assert response.status_code == 200, response.content
    assert Conversion.objects.get(network=network).click_id == "tx-1"


def test_a_field_given_with_the_preset_replaces_the_presets_value(admin_client):
    mapping = {"1": "pending", "2": "rejected"}

    response = post(
        admin_client,
        {"name": "CPX", "preset": "cpx-research", "secret": SECRET, "status_mapping": mapping, "decimal_comma": True},
    )

    assert response.status_code == 201, response.content
    network = Network.objects.get(pk=response.json()["id"])
    assert network.status_mapping == mapping
    assert network.decimal_comma is True
    assert network.signature == CPX["signature"]  # what the request did not give stays the preset's


def test_an_unknown_preset_is_a_400_naming_the_known_ones(admin_client):
    response = post(admin_client, {"name": "X", "preset": "cpx"})

    assert response.status_code == 400
    message = response.json()["preset"][0]
    assert message.startswith("no preset 'cpx'; the presets are ")
    assert all(slug in message for slug in ("cpx-research", "bitlabs", "appsflyer"))
    assert not Network.objects.exists()


def test_a_preset_is_refused_on_an_update(admin_client, network):
    response = patch(admin_client, network, {"preset": "cpx-research"})

    assert response.status_code == 400
    assert "new network" in response.json()["preset"][0]
    network.refresh_from_db()
    assert network.signature == {}


def test_a_network_without_a_preset_takes_the_fields_given(admin_client):
    body = {
        "name": "Own",
        "param_mapping": {"click_id": "subid"},
        "status_mapping": {"2": "pending"},
        "allowed_ips": "203.0.113.0/24",
        "require_known_click": True,
        "payout_scale": "0.01",
        "default_currency": "EUR",
    }

    response = post(admin_client, body)

    assert response.status_code == 201, response.content
    network = Network.objects.get(pk=response.json()["id"])
    assert network.param_mapping == {"click_id": "subid"}
    assert (network.allowed_ips, network.require_known_click, str(network.payout_scale)) == (
        "203.0.113.0/24",
        True,
        "0.010000",
    )


def test_every_field_a_preset_fills_is_read_and_written(admin_client, network):
    row = admin_client.get(f"/api/v1/networks/{network.pk}/").json()

    assert set(presets.FIELDS) <= set(row)
    assert {"name", "is_active", "allowed_ips", "require_known_click", "allow_reapproval"} <= set(row)
    assert patch(admin_client, network, {"decimal_comma": True, "payout_scale": "0.5"}).status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"signature": {"scheme": "rot13"}}, "signature", "scheme 'rot13' is not one of none, token"),
        ({"signature": {"scheme": "fields", "algorithm": "md5", "in": "query:hash"}}, "signature", "template"),
        ({"signature": {"scheme": "token", "in": "query:secure"}}, "secret", "needs the network's secret"),
        ({"param_mapping": {"clickid": "sid"}}, "param_mapping", "Unknown field(s) clickid"),
        ({"status_mapping": {"1": "paid"}}, "status_mapping", "Unknown status(es) paid"),
        ({"acknowledgements": {"accepted": {"status": "abc"}}}, "acknowledgements", "status"),
        ({"default_currency": "E1R"}, "default_currency", "three-letter"),
        ({"allowed_ips": "not-an-address"}, "allowed_ips", "not-an-address"),
        ({"status_mapping": {"a\x00": "approved"}}, "status_mapping", "NUL"),
    ],
)
def test_a_network_the_admin_would_refuse_is_a_400_on_that_field(admin_client, body, field, says):
    response = post(admin_client, {"name": "Bad", **body})

    assert response.status_code == 400
    assert says in response.json()[field][0], response.json()
    assert not Network.objects.exists()


def test_a_refused_update_leaves_the_network_as_it_was(admin_client, network):
    response = patch(admin_client, network, {"signature": {"scheme": "fields"}, "status_mapping": {"1": "approved"}})

    assert response.status_code == 400
    network.refresh_from_db()
    assert (network.signature, network.status_mapping) == ({}, {})


def test_the_secret_is_never_in_an_answer_nor_a_log(admin_client, caplog):
    caplog.set_level(logging.DEBUG)
    bad_recipe = {"name": "Bad", "secret": SECRET, "signature": {"scheme": "fields", "algorithm": "rot13"}}

    created = post(admin_client, {"name": "CPX", "preset": "cpx-research", "secret": SECRET})
    network = Network.objects.get(pk=created.json()["id"])
    answers = [
        created,
        admin_client.get("/api/v1/networks/"),
        admin_client.get(f"/api/v1/networks/{network.pk}/"),
        patch(admin_client, network, {"status_mapping": {"1": "approved"}}),
        patch(admin_client, network, {"secret": SECRET, "signature": {"scheme": "nope"}}),
        post(admin_client, bad_recipe),
        post(admin_client, {"name": "CPX", "secret": SECRET}),  # the name is taken
        post(admin_client, {"name": "Long", "secret": SECRET * 10}),
        # The browsable API fills its form again after a refused write.
        post(admin_client, bad_recipe, HTTP_ACCEPT="text/html"),
        admin_client.get(f"/api/v1/networks/{network.pk}/", HTTP_ACCEPT="text/html"),
    ]

    assert [answer.status_code for answer in answers] == [201, 200, 200, 200, 400, 400, 400, 400, 400, 200]
    assert all(SECRET not in answer.content.decode() for answer in answers)
    assert all(SECRET not in record.getMessage() for record in caplog.records)
    assert created.json()["masked_hmac_secret"] == SECRET[:4] + "…"
    assert "secret" not in created.json()


def test_an_update_without_the_secret_keeps_it_and_an_empty_one_removes_it(admin_client):
    network = Network.objects.create(name="Signed", hmac_secret=SECRET)

    assert patch(admin_client, network, {"is_active": False}).status_code == 200
    network.refresh_from_db()
    assert (network.hmac_secret, network.is_active) == (SECRET, False)

    assert patch(admin_client, network, {"secret": ""}).status_code == 200
    network.refresh_from_db()
    assert network.hmac_secret == ""


def test_the_key_is_the_servers(admin_client, network):
    key = network.key

    response = patch(admin_client, network, {"key": "mine", "masked_key": "mine"})

    assert response.status_code == 200
    network.refresh_from_db()
    assert network.key == key


def test_a_changed_mapping_is_what_the_receiver_reads_next(admin_client, client, network):
    assert patch(admin_client, network, {"param_mapping": {"click_id": "subid"}}).status_code == 200
    client.get(f"/postback/{network.key}/", {"subid": "before", "transaction_id": "t1"})

    response = patch(admin_client, network, {"param_mapping": {"click_id": "sid"}})
    client.get(f"/postback/{network.key}/", {"sid": "after", "transaction_id": "t2"})

    assert response.status_code == 200
    assert response.json()["param_mapping"] == {"click_id": "sid"}
    conversions = Conversion.objects.filter(network=network).order_by("id")
    assert [c.click_id for c in conversions] == ["before", "after"]


def test_a_read_only_user_can_neither_create_nor_change_a_network(network):
    reader = token_of(staff_with("receiver.view_network"))

    created = post(reader, {"name": "New", "preset": "cpx-research", "secret": SECRET})
    changed = patch(reader, network, {"is_active": False})

    assert (created.status_code, created.json()) == (403, {"detail": "Lacks the permission receiver.add_network."})
    assert (changed.status_code, changed.json()) == (403, {"detail": "Lacks the permission receiver.change_network."})
    assert list(Network.objects.all()) == [network]
    network.refresh_from_db()
    assert network.is_active is True


def test_staff_holding_add_and_change_network_write_networks(db):
    writer = token_of(staff_with("receiver.add_network", "receiver.change_network"))

    created = post(writer, {"name": "New", "preset": "bitlabs", "secret": SECRET})
    network = Network.objects.get(name="New")
    changed = patch(writer, network, {"is_active": False})

    assert (created.status_code, changed.status_code) == (201, 200)


def test_users_who_are_not_staff_cannot_create_a_network(member_client):
    assert post(member_client, {"name": "New"}).status_code == 403
    assert not Network.objects.exists()


def test_networks_are_deactivated_not_deleted(admin_client, network):
    assert admin_client.delete(f"/api/v1/networks/{network.pk}/").status_code == 405
    assert Network.objects.filter(pk=network.pk).exists()


def test_the_readmes_create_example_answers_as_the_readme_says(admin_client):
    # The docs test runs the curl as the support group's alice (a 403); a user who may add networks is checked here.
    curl, answer = CREATE_EXAMPLE.search(README.read_text(encoding="utf-8")).groups()
    words = shlex.split(curl.replace("\\\n", " "), comments=True)
    body = json.loads(words[words.index("-d") + 1])
    stated = json.loads(answer)
    stated.pop("id")  # the docs' database had a network already

    response = post(admin_client, body)

    assert body["preset"] == "cpx-research"
    assert response.status_code == 201, response.content
    assert {name: response.json()[name] for name in stated} == stated
