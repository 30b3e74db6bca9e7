"""The admin side of offer claims: a network's outgoing postback on its page, unreported claims, the trace."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partners import outbox
from partners.models import Breaker, Delivery, DestinationHealth, NetworkPostback, Partner, State
from receiver.models import Conversion, Network

TEMPLATE = "https://network.example/acquisition?click_id={click_id}&goal_value={goal}&sale_amount={payout}"


def network_form(**inline):
    form = {
        "name": "Acme Network",
        "is_active": "on",
        "param_mapping": "{}",
        "status_mapping": "{}",
        "payout_scale": "1",
        "outgoing_postback-TOTAL_FORMS": "1" if inline else "0",
        "outgoing_postback-INITIAL_FORMS": "0",
    }
    form.update({f"outgoing_postback-0-{name}": value for name, value in inline.items()})
    return form


@pytest.fixture
def claim(offer, app_server, django_capture_on_commit_callbacks):
    def send(**data):
        with django_capture_on_commit_callbacks(execute=True):
            return app_server.post(f"/api/offers/{offer.pk}/claim", {"user_id": "alice", **data}).json()

    return send


def test_the_network_page_saves_an_outgoing_postback(admin_client, network):
    url = reverse("admin:receiver_network_change", args=[network.pk])

    response = admin_client.post(url, network_form(postback_url=TEMPLATE, method="GET", body_type="form", headers="{}"))

    assert response.status_code == 302
    outgoing = NetworkPostback.objects.get()
    assert (outgoing.network, outgoing.name, outgoing.postback_url) == (
        network,
        "Acme Network (network postback)",
        TEMPLATE,
    )


def test_the_network_page_refuses_an_unknown_macro_in_the_outgoing_postback(admin_client, network):
    url = reverse("admin:receiver_network_change", args=[network.pk])
    form = network_form(postback_url=TEMPLATE + "&x={nope}", method="GET", body_type="form", headers="{}")

    response = admin_client.post(url, form)

    assert response.status_code == 200
    assert "nope" in str(response.context["inline_admin_formsets"][0].formset.errors)
    assert not NetworkPostback.objects.exists()


def test_the_network_page_shows_the_known_macros_for_the_outgoing_postback(admin_client, network):
    page = admin_client.get(reverse("admin:receiver_network_change", args=[network.pk])).content.decode()

    assert "Outgoing postback (reports this network" in page
    assert "{goal}" in page


def test_unreported_claims_are_listed_and_reported_from_the_conversion_list(admin_client, claim, network):
    claim(click_id="C1")
    changelist = reverse("admin:receiver_conversion_changelist")

    listed = admin_client.get(changelist, {"reported": "no"})
    NetworkPostback.objects.create(name="Acme outgoing", network=network, postback_url=TEMPLATE)
    acted = admin_client.post(
        changelist, {"action": "report_to_network", "_selected_action": [Conversion.objects.get().pk]}, follow=True
    )

    assert "C1" in listed.content.decode()
    assert "Report to the network: queued 1." in acted.content.decode()
    assert Conversion.objects.get().not_reported == ""


def test_the_trace_shows_a_claim_in_and_its_report_out(
    admin_client, claim, network, django_capture_on_commit_callbacks
):
    NetworkPostback.objects.create(name="Acme outgoing", network=network, postback_url=TEMPLATE, is_active=False)
    claim(click_id="C1")
    with django_capture_on_commit_callbacks(execute=True):
        Client().get(f"/postback/{network.key}/", {"click_id": "C1", "status": "rejected"})
    conversion = Conversion.objects.get()

    page = admin_client.get(reverse("admin:receiver_conversion_change", args=[conversion.pk])).content.decode()

    assert "← In: claim from our app server" in page
    assert "← In: postback from Acme Network" in page
    assert "→ Out: not reported: network Acme Network" in page


def test_the_partner_list_holds_partners_only_and_a_network_postback_has_its_own_page(admin_client, network):
    Partner.objects.create(name="Pub", postback_url="https://pub.example/pb?c={click_id}")
    report = NetworkPostback.objects.create(network=network, postback_url=TEMPLATE, max_concurrency=2)
    DestinationHealth.objects.create(destination=report, breaker=Breaker.OPEN, consecutive_failures=7)

    partners = admin_client.get(reverse("admin:partners_partner_changelist")).context["cl"].result_list
    page = admin_client.get(reverse("admin:partners_networkpostback_change", args=[report.pk])).content.decode()

    assert [p.name for p in partners] == ["Pub"]
    assert "Acme Network (network postback)" in page
    assert "7 failures in a row" in page
    assert "2 at once" in page


def test_re_enabling_a_network_postback_replays_its_parked_reports(admin_client, claim, network):
    report = NetworkPostback.objects.create(network=network, postback_url=TEMPLATE)
    claim(click_id="C1")
    outbox.route()
    # Disabled while its report waited: the drainer parks it (tests/partners/test_delivery.py).
    NetworkPostback.objects.filter(pk=report.pk).update(disabled_at=timezone.now(), disabled_reason="410 Gone")
    Delivery.objects.filter(destination=report).update(state=State.PARKED)
    parked = Delivery.objects.get(destination=report)

    admin_client.post(
        reverse("admin:partners_networkpostback_changelist"), {"action": "reenable", "_selected_action": [report.pk]}
    )

    assert parked.state == State.PARKED
    assert Delivery.objects.get(pk=parked.pk).state == State.PENDING
    assert NetworkPostback.objects.get().sendable


def test_the_network_list_shows_which_networks_have_claims(admin_client, claim):
    claim(click_id="C1")

    response = admin_client.get(reverse("admin:receiver_network_changelist"), {"has_claims__exact": "1"})

    assert [n.name for n in response.context["cl"].result_list] == [Network.objects.get().name]
