"""Offer claims end to end: our app server claims -> a real worker -> a local HTTP server as the network."""

import pytest

from partners import outbox
from partners.models import FINAL_STATES, Delivery, NetworkPostback, State
from receiver import ledger
from receiver.models import Conversion
from tests.support.sink import Reply

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_claim_is_reported_once_retried_on_500_and_reversed_by_the_network(
    app_server, client, network, offer, sink, workers, wait_until
):
    outgoing = NetworkPostback(
        network=network,
        postback_url=sink.url("/acquisition?click_id={click_id}&txn_id={conversion_id}&goal_value={goal}"),
    )
    outgoing.full_clean(exclude=["name"])
    outgoing.save()
    sink.script(Reply(500))
    workers.start()
    claim_url = f"/api/offers/{offer.pk}/claim"

    first = app_server.post(claim_url, {"clickid": "CLICK123", "user_id": "alice", "goal": "install"})

    assert first.status_code == 201, first.content
    conversion_id = first.json()["conversionId"]
    expected = f"/acquisition?click_id=CLICK123&txn_id={conversion_id}&goal_value=install"
    wait_until(
        lambda: not outbox.unrouted().exists() and not Delivery.objects.exclude(state__in=FINAL_STATES).exists(),
        "the claim to be routed and its report to succeed",
    )
    assert sink.paths == [expected, expected]
    delivery = Delivery.objects.get()
    assert (delivery.destination_id, delivery.state, delivery.attempts) == (outgoing.pk, State.SUCCEEDED, 2)
    assert [a.response_status for a in delivery.attempt_set.order_by("number")] == [500, 200]

    again = app_server.post(claim_url, {"clickid": "CLICK123", "user_id": "alice", "goal": "install"})
    # Another click's claim is the barrier: once its report has arrived, the duplicate had its chance to send.
    app_server.post(claim_url, {"clickid": "CLICK456", "user_id": "bob", "goal": "install"})
    wait_until(lambda: any("CLICK456" in path for path in sink.paths), "the barrier claim's report")

    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert [path for path in sink.paths if "CLICK123" in path] == [expected, expected]

    rejected = client.get(f"/postback/{network.key}/", {"click_id": "CLICK123", "status": "rejected"}).json()

    assert (rejected["success"], rejected["conversionId"], rejected["status"]) == (True, conversion_id, "rejected")
    assert Conversion.objects.get(pk=conversion_id).status == "rejected"
    assert ledger.balance("alice") == 0
    assert list(Conversion.objects.get(pk=conversion_id).points_entries.values_list("delta", flat=True)) == [-250, 250]
    assert len([path for path in sink.paths if "CLICK123" in path]) == 2
