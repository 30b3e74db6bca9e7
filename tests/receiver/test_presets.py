"""Network presets as data: each makes a valid network, is listed with its source, fills create_network, and is in
the guide; the worked example of each, signed as its network signs it, is in test_preset_examples.py."""

import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from receiver import presets
from receiver.models import Conversion, Network
from tests.receiver.network_signers import EXAMPLES, SECRET

pytestmark = pytest.mark.django_db


def from_preset(slug, **fields):
    signs = "signature" in presets.preset(slug)["settings"]
    network = presets.apply(Network(name=slug, hmac_secret=SECRET if signs else "", **fields), slug)
    network.full_clean()
    network.save()
    return network


@pytest.mark.parametrize("slug", list(presets.all_presets()))
def test_every_preset_makes_a_valid_network(slug):
    from_preset(slug)


def test_a_wannads_duplicate_is_acknowledged_dup(client):
    network = from_preset("wannads")
    example = EXAMPLES["wannads"]
    url = example.sign(f"/postback/{network.key}/", example.approved, SECRET).url

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
