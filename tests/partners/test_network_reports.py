"""A claim is reported to its network's outgoing postback, once; the network's answers come back as status changes."""

from decimal import Decimal

import pytest
import responses
from django.utils import timezone

from partners.figures import compute
from partners.models import Delivery, DeliveryAttempt, NetworkPostback, Partner, State
from partners.redelivery import report_claims
from receiver import ledger
from receiver.models import Conversion, Outcome, ReceivedPostback

ACQUISITION = "https://network.example/acquisition"
TEMPLATE = ACQUISITION + "?click_id={click_id}&txn_id={conversion_id}&goal_value={goal}&sale_amount={payout}"


@pytest.fixture
def outgoing(network):
    return NetworkPostback.objects.create(name="Acme outgoing", network=network, postback_url=TEMPLATE)


@pytest.fixture
def claim(offer, app_server, django_capture_on_commit_callbacks):
    """POST a claim as our app server and run what its commit hands over (sends, in-process)."""

    def send(**data):
        with django_capture_on_commit_callbacks(execute=True):
            return app_server.post(f"/api/offers/{offer.pk}/claim", {"user_id": "alice", **data})

    return send


@pytest.fixture
def network_posts(client, network, django_capture_on_commit_callbacks):
    def send(**params):
        with django_capture_on_commit_callbacks(execute=True):
            return client.get(f"/postback/{network.key}/", params).json()

    return send


@responses.activate
def test_a_claim_is_reported_to_the_network_with_its_rendered_url(claim, outgoing):
    responses.get(ACQUISITION, body="ok")

    answer = claim(click_id="CLICK 1", goal="install").json()

    conversion = Conversion.objects.get()
    assert [call.request.url for call in responses.calls] == [
        f"{ACQUISITION}?click_id=CLICK%201&txn_id={conversion.pk}&goal_value=install&sale_amount=2.50"
    ]
    delivery = Delivery.objects.get()
    assert (delivery.destination_id, delivery.state, delivery.event.conversion) == (
        outgoing.pk,
        State.SUCCEEDED,
        conversion,
    )
    assert answer["reported"] is True
    assert "notReportedReason" not in answer


@responses.activate
def test_a_duplicate_claim_is_not_reported_again(claim, outgoing):
    responses.get(ACQUISITION, body="ok")

    claim(click_id="C1")
    claim(click_id="C1")

    assert len(responses.calls) == 1
    assert Delivery.objects.count() == 1


@responses.activate
def test_partners_get_the_claim_and_never_the_network_its_own_postbacks(claim, outgoing, network_posts):
    responses.get(ACQUISITION, body="ok")
    responses.get("https://pub.example/pb", body="ok")
    partner = Partner.objects.create(name="Pub", postback_url="https://pub.example/pb?c={click_id}&s={status}")

    claim(click_id="C1")
    network_posts(click_id="OTHER", transaction_id="t-9")

    assert Delivery.objects.filter(destination=outgoing).count() == 1
    assert Delivery.objects.filter(destination=partner).count() == 2


@responses.activate
def test_the_deliveries_api_names_a_claims_report_apart_from_a_partners_delivery(claim, outgoing, admin_client):
    responses.get(ACQUISITION, body="ok")
    responses.get("https://pub.example/pb", body="ok")
    partner = Partner.objects.create(name="Pub", postback_url="https://pub.example/pb?c={click_id}")
    claim(click_id="C1")

    rows = admin_client.get("/api/v1/deliveries/").json()["results"]

    assert sorted((row["partner"], row["partner_name"], row["destination_kind"]) for row in rows) == sorted(
        [(outgoing.pk, "Acme outgoing", "network_postback"), (partner.pk, "Pub", "partner")]
    )


def test_a_claim_on_a_network_without_an_outgoing_postback_is_stored_and_marked_not_reported(claim):
    answer = claim(click_id="C1").json()

    conversion = Conversion.objects.get()
    assert conversion.not_reported == "not reported: network Acme Network has no outgoing postback template"
    assert (answer["reported"], answer["notReportedReason"]) == (False, conversion.not_reported)
    assert not Delivery.objects.exists()
    assert ledger.balance("alice") == 250


def test_a_disabled_outgoing_postback_leaves_the_claim_not_reported(claim, outgoing):
    outgoing.is_active = False
    outgoing.save()

    claim(click_id="C1")

    assert Conversion.objects.get().not_reported.endswith("outgoing postback is inactive")
    assert not Delivery.objects.exists()


@responses.activate
def test_an_unreported_claim_is_reported_once_the_network_has_a_template(
    claim, network, django_capture_on_commit_callbacks
):
    responses.get(ACQUISITION, body="ok")
    claim(click_id="C1")
    NetworkPostback.objects.create(name="Acme outgoing", network=network, postback_url=TEMPLATE)

    with django_capture_on_commit_callbacks(execute=True):
        first = report_claims(Conversion.objects.all())
    again = report_claims(Conversion.objects.all())

    assert (first.summary(), again.summary()) == ("queued 1", "queued 0; not queued 1 (not an unreported claim: 1)")
    assert Conversion.objects.get().not_reported == ""
    assert len(responses.calls) == 1


@responses.activate
def test_a_failed_report_is_retried_and_every_attempt_logged(claim, outgoing, settings):
    settings.DELIVERY_RETRY_SCHEDULE = [0, 0]
    responses.get(ACQUISITION, status=500, body="busy")
    responses.get(ACQUISITION, body="ok")

    claim(click_id="C1")

    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts) == (State.SUCCEEDED, 2)
    assert list(DeliveryAttempt.objects.order_by("number").values_list("response_status", flat=True)) == [500, 200]


def test_the_network_rejecting_a_claim_rejects_its_conversion_and_balances_points(claim, outgoing, network_posts):
    claim(click_id="C1")

    answer = network_posts(click_id="C1", status="rejected")

    conversion = Conversion.objects.get()
    assert answer["status"] == "rejected"
    assert conversion.status == "rejected"
    assert ReceivedPostback.objects.order_by("-id").first().outcome == Outcome.STATUS_CHANGE
    assert ledger.balance("alice") == 0
    assert list(conversion.points_entries.order_by("id").values_list("delta", flat=True)) == [250, -250]
    assert Delivery.objects.filter(destination=outgoing).count() == 1


def test_a_confirmation_of_a_claim_is_a_duplicate(claim, network_posts):
    claim(click_id="C1")

    answer = network_posts(click_id="C1", status="approved", transaction_id="their-77")

    assert answer["duplicate"] is True
    assert Conversion.objects.count() == 1


def test_the_network_names_the_goal_or_our_conversion_id_when_a_click_has_several_claims(claim, network_posts):
    claim(click_id="C1", goal="install")
    claim(click_id="C1", goal="purchase", payout="10")
    install, purchase = Conversion.objects.order_by("id")

    network_posts(click_id="C1", goal="purchase", status="reversed")
    network_posts(click_id="C1", transaction_id=str(install.pk), status="rejected")
    network_posts(click_id="C1", status="rejected")

    install.refresh_from_db()
    purchase.refresh_from_db()
    assert (install.status, purchase.status) == ("rejected", "reversed")
    third = Conversion.objects.exclude(pk__in=[install.pk, purchase.pk]).get()
    assert (third.source, third.payout) == ("postback", Decimal("0"))


def test_a_postback_about_an_unclaimed_click_is_a_new_conversion(claim, network_posts):
    claim(click_id="C1")

    network_posts(click_id="C2", payout="3")

    assert Conversion.objects.count() == 2


@responses.activate
def test_a_report_to_the_network_is_not_counted_as_a_partner_payout(claim, outgoing):
    responses.get(ACQUISITION, body="ok")
    claim(click_id="C1")
    today = timezone.localdate()

    figures = compute(today, today)

    assert Delivery.objects.get().house_amount == Decimal("2.50")
    assert (figures.gross, figures.partner_payouts, figures.margin) == (Decimal("2.50"), 0, Decimal("2.50"))
