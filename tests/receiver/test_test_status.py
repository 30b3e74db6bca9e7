"""status=test: a network's test postback makes a test conversion of its own and never changes a real one."""

import pytest

from partners.models import Delivery
from receiver.models import Conversion, ConversionEvent, Outcome, PointsEntry, ReceivedPostback

REFUSED = "test_on_real_conversion"
pytestmark = pytest.mark.usefixtures("nothing_sent")


def send(client, url, status, **params):
    params = {"click_id": "c1", "transaction_id": "t1", "user_id": "alice", "payout": "2", "status": status, **params}
    return client.get(url, params)


@pytest.mark.parametrize("real_status", ["approved", "pending", "rejected"])
def test_a_test_postback_about_a_real_conversion_is_refused_and_changes_nothing(
    client, postback_url, partner, real_status
):
    send(client, postback_url, real_status)
    before = (ConversionEvent.objects.count(), PointsEntry.objects.count(), Delivery.objects.count())

    answer = send(client, postback_url, "test").json()

    assert (answer["success"], answer["reason"]) == (False, REFUSED)
    assert "cannot change conversion" in answer["message"]
    conversion = Conversion.objects.get()
    assert (conversion.status, conversion.is_test) == (real_status, False)
    assert (ConversionEvent.objects.count(), PointsEntry.objects.count(), Delivery.objects.count()) == before
    row = ReceivedPostback.objects.order_by("-id").first()
    assert (row.outcome, row.reason, row.http_status, row.conversion) == (Outcome.REJECTED, REFUSED, 200, None)


def test_a_test_postback_of_its_own_makes_a_test_conversion(client, postback_url):
    answer = send(client, postback_url, "test").json()

    assert (answer["success"], answer["test"]) == (True, True)
    assert Conversion.objects.get().is_test is True


def test_a_test_postback_sent_twice_is_a_duplicate(client, postback_url):
    send(client, postback_url, "test")

    answer = send(client, postback_url, "test").json()

    assert answer.get("duplicate") is True, answer
    assert Conversion.objects.count() == 1
