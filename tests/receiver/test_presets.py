"""Network presets: each known network's postback, signed and sent exactly as it sends it, lands and is acknowledged."""

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from io import StringIO
from pathlib import Path
from urllib.parse import quote_plus, urlencode

import pytest
from django.core.management import CommandError, call_command

from receiver import presets
from receiver.models import Conversion, Network, ReceivedPostback

pytestmark = pytest.mark.django_db
SECRET = "network-given-secret-0123"
BASE = "http://127.0.0.1:8000"  # PUBLIC_BASE_URL in the tests


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def hmac_of(text, algorithm, encoding="hex"):
    digest = hmac.new(SECRET.encode(), text.encode(), algorithm).digest()
    if encoding == "hex":
        return digest.hex()
    if encoding == "base64":
        return base64.b64encode(digest).decode()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def url_signed(path, query, name, algorithm, encoding="hex"):
    """The URL as a network that signs its whole URL calls it: the signature appended last."""
    return f"{path}?{query}&{name}={quote_plus(hmac_of(f'{BASE}{path}?{query}', algorithm, encoding))}", {}


def signed(path, slug):
    """(URL, headers) of one approved conversion, as the network `slug` sends it."""
    if slug == "cpx-research":
        query = {"status": "1", "trans_id": "cpx-1", "user_id": "u1", "amount_usd": "0.50", "subid_1": "s1"}
        return f"{path}?{urlencode({**query, 'hash': md5(f'cpx-1-{SECRET}')})}", {}
    if slug == "bitlabs":
        return url_signed(path, "uid=u1&tx=bl-1&val=120&raw=0.60&type=COMPLETE", "hash", hashlib.sha1)
    if slug == "ayetstudios":
        query = {"transaction_id": "ay-1", "external_identifier": "u1", "payout_usd": "0.40", "offer_name": "Coin Rush"}
        message = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in sorted(query.items()))
        return f"{path}?{urlencode(query)}", {"x-ayetstudios-security-hash": hmac_of(message, hashlib.sha256)}
    if slug == "lootably":
        query = {"userID": "u1", "transactionID": "lt-1", "ip": "203.0.113.9", "revenue": "0.80"}
        query |= {"currencyReward": "80", "offerID": "o1", "goalID": "g1", "status": "1"}
        return f"{path}?{urlencode({**query, 'hash': sha256(f'u1203.0.113.90.8080{SECRET}')})}", {}
    if slug == "torox":
        query = {"id": "tx-1", "oid": "55", "amount": "100", "user_id": "u1", "payout": "0.70"}
        return f"{path}?{urlencode({**query, 'sig': md5(f'55-u1-{SECRET}')})}", {}
    if slug == "notik":
        query = "user_id=u1&amount=100&payout=0.30&txn_id=nk-1&offer_id=9&event_name=install"
        return url_signed(path, query, "hash", hashlib.sha1)
    if slug == "theoremreach":
        return url_signed(path, "user_id=u1&reward=50&tx_id=tr-1", "hash", hashlib.sha1, "base64url")
    if slug == "pollfish":
        names = ["cpa", "device_id", "request_uuid", "reward_name", "reward_value", "status", "timestamp", "tx_id"]
        values = ["150", "u1", "rq-1", "Coins", "300", "eligible", "1767225600", "pf-1"]
        query = {
            **dict(zip(names, values, strict=True)),
            "signature": hmac_of(":".join(values), hashlib.sha1, "base64"),
        }
        return f"{path}?{urlencode(query)}", {}
    if slug == "kiwiwall":
        query = {"status": "1", "trans_id": "kw-1", "sub_id": "u1", "gross": "0.90", "amount": "90", "offer_id": "7"}
        return f"{path}?{urlencode({**query, 'signature': md5(f'u1:90:{SECRET}')})}", {}
    if slug == "wannads":
        query = {"subId": "u1", "transId": "wn-1", "reward": "40", "payout": "0.40", "status": "1"}
        return f"{path}?{urlencode({**query, 'signature': md5(f'u1wn-140{SECRET}')})}", {}
    if slug == "affise":
        query = {"clickid": "c1", "action_id": "af-1", "sum": "1.5", "status": "1", "secure": SECRET}
        return f"{path}?{urlencode(query)}", {}
    if slug == "scaleo":
        return f"{path}?{urlencode({'click_id': 'c1', 'conv_status': 'approved', 'token': SECRET})}", {}
    raise AssertionError(slug)


SIGNED = {
    # slug: (what the network is answered, the conversion's click id and payout)
    "cpx-research": (None, "cpx-1", "0.50"),
    "bitlabs": (None, "bl-1", "0.60"),
    "ayetstudios": (None, "ay-1", "0.40"),
    "lootably": (None, "lt-1", "0.80"),
    "torox": (b"1", "tx-1", "0.70"),
    "notik": (b"OK", "nk-1", "0.30"),
    "theoremreach": (None, "tr-1", "50"),
    "pollfish": (None, "pf-1", "1.50"),
    "kiwiwall": (b"1", "kw-1", "0.90"),
    "wannads": (b"OK", "wn-1", "0.40"),
    "affise": (None, "c1", "1.5"),
    "scaleo": (None, "c1", "0"),
}


def from_preset(slug, **fields):
    signs = "signature" in presets.preset(slug)["settings"]
    network = presets.apply(Network(name=slug, hmac_secret=SECRET if signs else "", **fields), slug)
    network.full_clean()
    network.save()
    return network


@pytest.mark.parametrize("slug", list(presets.all_presets()))
def test_every_preset_makes_a_valid_network(slug):
    from_preset(slug)


@pytest.mark.parametrize("slug", list(SIGNED))
def test_a_presets_network_is_accepted_as_it_signs_and_acknowledged_as_it_expects(client, slug):
    network = from_preset(slug)
    url, headers = signed(f"/postback/{network.key}/", slug)
    ack, click_id, payout = SIGNED[slug]

    response = client.get(url, headers=headers)

    assert response.status_code == 200, response.content
    assert response.content == ack if ack else response.json()["success"] is True, response.content
    conversion = Conversion.objects.get()
    assert (conversion.click_id, conversion.payout) == (click_id, Decimal(payout))


@pytest.mark.parametrize("slug", list(SIGNED))
def test_a_presets_network_refuses_a_postback_signed_with_another_secret(client, slug, monkeypatch):
    network = from_preset(slug)
    monkeypatch.setattr(f"{__name__}.SECRET", "another-secret-altogether")
    url, headers = signed(f"/postback/{network.key}/", slug)

    response = client.get(url, headers=headers)

    assert ReceivedPostback.objects.get().reason == "bad_signature"
    assert response.status_code == 401
    assert not Conversion.objects.exists()


def test_a_wannads_duplicate_is_acknowledged_dup(client):
    network = from_preset("wannads")
    url, _headers = signed(f"/postback/{network.key}/", "wannads")

    assert [client.get(url).content for _ in range(2)] == [b"OK", b"DUP"]


def test_an_allowlisted_presets_network_is_accepted_only_from_its_address(client):
    network = from_preset("adgate")
    query = {"s1": "u1", "conversion_id": "ag-1", "payout": "0.25", "state": "approved"}

    allowed = client.get(f"/postback/{network.key}/", query, REMOTE_ADDR="52.42.57.125")
    elsewhere = client.get(f"/postback/{network.key}/", {**query, "conversion_id": "ag-2"}, REMOTE_ADDR="198.51.100.1")

    assert (allowed.status_code, elsewhere.status_code) == (200, 403)
    assert Conversion.objects.get().click_id == "ag-1"


def test_an_everflow_decimal_comma_and_a_tune_acknowledgement(client):
    everflow, tune = from_preset("everflow"), from_preset("tune")

    client.get(f"/postback/{everflow.key}/", {"transaction_id": "ef-click", "amount": "12,34"})
    answer = client.get(f"/postback/{tune.key}/", {"transaction_id": "tn-click", "amount": "2"})

    assert Conversion.objects.get(network=everflow).payout == Decimal("12.34")
    assert answer.content == b"success=true;"


def test_network_presets_lists_each_preset_with_its_source(capsys):
    call_command("network_presets", "--json")

    listed = json.loads(capsys.readouterr().out)
    assert {row["slug"] for row in listed} == set(presets.all_presets())
    assert {row["source"] for row in listed} <= set(presets.SOURCES)
    assert all(row["docs"].startswith("https://") and row["description"] for row in listed)


def test_create_network_from_a_preset_with_its_own_additions(db):
    call_command(
        "create_network",
        "CPX",
        "--preset",
        "cpx-research",
        "--secret",
        SECRET,
        "--param",
        "goal=type",
        stdout=StringIO(),
    )

    network = Network.objects.get(name="CPX")
    assert network.signature["template"] == "{trans_id}-{secret}"
    assert network.param_mapping == {**presets.preset("cpx-research")["settings"]["param_mapping"], "goal": "type"}
    with pytest.raises(CommandError, match="no preset 'cpx'; the presets are cpx-research"):
        call_command("create_network", "Bad", "--preset", "cpx", stdout=StringIO())


def test_the_network_guide_lists_every_preset():
    guide = (Path(__file__).parents[2] / "docs" / "network-integration.md").read_text()

    assert [slug for slug in presets.all_presets() if f"| `{slug}` |" not in guide] == []
