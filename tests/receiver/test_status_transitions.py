"""A network's status policy: which status changes its postbacks may make; a refused one is a duplicate-like no-op."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from partners.models import Delivery
from receiver.ledger import balance
from receiver.models import Conversion, ConversionEvent, Network, Offer, Outcome, PointsEntry, ReceivedPostback
from tests.support.config import token_changed_elsewhere

REFUSED = "status_transition_refused"
pytestmark = pytest.mark.usefixtures("nothing_sent")


def send(client, url, status, **params):
    params = {"click_id": "c1", "transaction_id": "t1", "user_id": "alice", "payout": "5", "status": status, **params}
    return client.get(url, params)


def moves():
    return list(ConversionEvent.objects.order_by("id").values_list("from_status", "to_status"))


def test_a_reversed_conversion_is_not_approved_again_by_default(client, postback_url):
    send(client, postback_url, "approved")
    send(client, postback_url, "reversed")

    response = send(client, postback_url, "approved")

    assert Conversion.objects.get().status == "reversed"
    assert moves() == [("", "approved"), ("approved", "reversed")]
    row = ReceivedPostback.objects.order_by("-id").first()
    assert (row.outcome, row.reason, row.status) == (Outcome.DUPLICATE, REFUSED, "approved")
    assert "from reversed to approved is not allowed for this network" in row.message
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "duplicate": True,
        "reason": REFUSED,
        "message": row.message,
        "postbackId": row.pk,
        "conversionId": row.conversion_id,
    }


def test_a_rejected_conversion_is_not_approved_again_by_default(client, postback_url):
    send(client, postback_url, "pending")
    send(client, postback_url, "rejected")

    send(client, postback_url, "approved")

    assert Conversion.objects.get().status == "rejected"
    assert moves() == [("", "pending"), ("pending", "rejected")]
    assert balance("alice") == 0


def test_replaying_approved_and_reversed_alternately_credits_and_forwards_once(client, postback_url, partner):
    for status in ["approved", "reversed", "approved", "reversed", "approved"]:
        assert send(client, postback_url, status).json()["success"] is True

    assert Conversion.objects.get().status == "reversed"
    assert list(PointsEntry.objects.order_by("id").values_list("delta", flat=True)) == [500, -500]
    assert balance("alice") == 0
    assert Delivery.objects.count() == 2
    assert list(ReceivedPostback.objects.order_by("id").values_list("outcome", "reason")) == [
        (Outcome.ACCEPTED, ""),
        (Outcome.STATUS_CHANGE, ""),
        (Outcome.DUPLICATE, REFUSED),
        (Outcome.DUPLICATE, ""),
        (Outcome.DUPLICATE, REFUSED),
    ]


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("reversed", "approved"),
        ("rejected", "approved"),
        ("approved", "pending"),
        ("reversed", "pending"),
        ("reversed", "rejected"),
        ("rejected", "pending"),
        ("rejected", "reversed"),
    ],
)
def test_a_move_outside_the_default_policy_is_refused_without_an_event_points_or_delivery(
    client, postback_url, partner, first, then
):
    send(client, postback_url, "pending")
    send(client, postback_url, first)
    before = (moves(), list(PointsEntry.objects.values_list("pk", flat=True)), Delivery.objects.count())

    body = send(client, postback_url, then).json()

    assert (body["duplicate"], body["reason"]) == (True, REFUSED)
    assert f"from {first} to {then} is not allowed" in body["message"]
    assert Conversion.objects.get().status == first
    assert (moves(), list(PointsEntry.objects.values_list("pk", flat=True)), Delivery.objects.count()) == before


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("pending", "approved"),
        ("pending", "rejected"),
        ("pending", "reversed"),
        ("approved", "reversed"),
        ("approved", "rejected"),
    ],
)
def test_the_default_policy_lets_a_conversion_be_decided_and_an_approval_be_taken_back(
    client, postback_url, partner, first, then
):
    send(client, postback_url, first)

    body = send(client, postback_url, then).json()

    assert body["message"] == f"Status changed to {then}"
    assert moves()[-1] == (first, then)
    assert Delivery.objects.filter(event__to_status=then).count() == 1


def test_a_chargeback_sent_as_rejected_takes_the_points_back(client, postback_url):
    send(client, postback_url, "approved")

    send(client, postback_url, "rejected")

    assert list(PointsEntry.objects.order_by("id").values_list("delta", flat=True)) == [500, -500]


def test_a_refused_move_keeps_the_payout(client, postback_url):
    send(client, postback_url, "approved", payout="5")
    send(client, postback_url, "reversed", payout="5")

    send(client, postback_url, "approved", payout="9")

    assert (Conversion.objects.get().payout, balance("alice")) == (Decimal("5"), 0)


@pytest.mark.parametrize("first", ["reversed", "rejected"])
def test_a_network_that_allows_reapproval_can_approve_again(client, network, postback_url, partner, first):
    network.allow_reapproval = True
    network.save()
    send(client, postback_url, "approved")
    send(client, postback_url, first)

    body = send(client, postback_url, "approved").json()

    assert body["message"] == "Status changed to approved"
    assert moves()[-1] == (first, "approved")
    assert balance("alice") == 500
    assert Delivery.objects.count() == 3


def test_allowing_reapproval_does_not_reopen_other_moves_out_of_a_final_status(client, network, postback_url):
    network.allow_reapproval = True
    network.save()
    send(client, postback_url, "pending")
    send(client, postback_url, "reversed")

    assert send(client, postback_url, "pending").json()["reason"] == REFUSED
    assert send(client, postback_url, "rejected").json()["reason"] == REFUSED


def test_reapproval_allowed_by_another_process_applies_to_the_next_postback(client, network, postback_url):
    send(client, postback_url, "pending")
    send(client, postback_url, "reversed")
    send(client, postback_url, "approved")  # warms this process's copy of the networks, with reapproval off

    Network.objects.filter(pk=network.pk).update(allow_reapproval=True)
    token_changed_elsewhere()

    assert send(client, postback_url, "approved").json()["message"] == "Status changed to approved"


def test_a_network_postback_cannot_approve_a_reversed_claim_again(client, app_server, network):
    offer = Offer.objects.create(network=network, name="Game", url="https://acme.example/?s={click_id}", payout="2")
    claim = {"click_id": "C1", "user_id": "alice"}
    app_server.post(f"/api/offers/{offer.pk}/claim", json.dumps(claim), content_type="application/json")
    client.get(f"/postback/{network.key}/", {"click_id": "C1", "status": "reversed"})

    body = client.get(f"/postback/{network.key}/", {"click_id": "C1", "status": "approved"}).json()

    assert body["reason"] == REFUSED
    assert Conversion.objects.get().status == "reversed"
    assert balance("alice") == 0


def test_refused_moves_are_listed_and_counted_as_duplicates(client, admin_client, postback_url):
    send(client, postback_url, "pending")
    send(client, postback_url, "reversed")
    send(client, postback_url, "approved")
    refused = ReceivedPostback.objects.get(reason=REFUSED)

    listed = admin_client.get("/api/v1/received-postbacks/?outcome=duplicate").json()["results"]
    logs = json.loads(_run("postback_logs", "--outcome", "duplicate", "--json"))

    assert [(row["id"], row["reason"]) for row in listed] == [(refused.pk, REFUSED)]
    assert [(row["id"], row["reason"]) for row in logs] == [(refused.pk, REFUSED)]


def test_create_network_allows_reapproval_only_when_asked(db):
    _run("create_network", "Strict")
    _run("create_network", "Lenient", "--allow-reapproval")

    assert dict(Network.objects.values_list("name", "allow_reapproval")) == {"Strict": False, "Lenient": True}


def test_the_admin_network_form_sets_reapproval_and_explains_it(admin_client, network):
    url = reverse("admin:receiver_network_change", args=[network.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="allow_reapproval"' in page
    assert "rejected and reversed are final" in page

    form = {"name": network.name, "is_active": "on", "param_mapping": "{}", "status_mapping": "{}", "payout_scale": "1"}
    # The network's outgoing postback (partners' inline on this page), left empty.
    inline = {"outgoing_postback-TOTAL_FORMS": "0", "outgoing_postback-INITIAL_FORMS": "0"}
    response = admin_client.post(url, {**form, **inline, "allow_reapproval": "on"})

    assert response.status_code == 302
    network.refresh_from_db()
    assert network.allow_reapproval is True


def test_the_api_shows_whether_a_network_allows_reapproval(admin_client, network):
    assert admin_client.get(f"/api/v1/networks/{network.pk}/").json()["allow_reapproval"] is False


def _run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()
