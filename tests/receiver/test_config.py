"""Each process's copy of networks and routing: used while unchanged, reloaded after any change, wherever made."""

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from partners import outbox
from partners.delivery import disable
from partners.models import Delivery, Partner, State
from receiver import config
from receiver.models import ConfigVersion, Conversion, Network, Offer
from tests.support.config import token_changed_elsewhere


@pytest.fixture(autouse=True)
def _nothing_sent(monkeypatch):
    # These tests look at which deliveries are created; none is sent. The drainer woken after commit would route
    # them, but a unit test never commits: route at once.
    monkeypatch.setattr("partners.forwarding.wake_drainer", outbox.route)


@pytest.fixture
def partner(db):
    return Partner.objects.create(name="Wall", postback_url="https://wall.example/pb?c={click_id}")


def _post(client, network, click_id):
    return client.get(f"/postback/{network.key}/", {"click_id": click_id})


def _deliveries(click_id):
    return list(Delivery.objects.filter(event__conversion__click_id=click_id).values_list("state", "reason"))


def _change_elsewhere(model, pk, **values):
    """What another process does: its write and its new token, without this process's signals or queryset."""
    QuerySet(model=model).filter(pk=pk).update(**values)
    token_changed_elsewhere()


def test_an_unchanged_configuration_is_answered_from_the_copy(client, network, django_assert_num_queries):
    _post(client, network, "warm-up")

    with django_assert_num_queries(1):
        assert config.cached("networks", lambda: pytest.fail("loaded again")) is not None


def test_a_network_deactivated_by_another_process_is_refused_at_once(client, network):
    assert _post(client, network, "c1").status_code == 200

    _change_elsewhere(Network, network.pk, is_active=False)

    assert _post(client, network, "c2").json()["reason"] == "inactive_network"


def test_a_mapping_changed_by_another_process_is_used_by_the_next_accepted_postback(client, network):
    assert _post(client, network, "c1").status_code == 200

    _change_elsewhere(Network, network.pk, param_mapping={"click_id": "trans_id"})
    response = client.get(f"/postback/{network.key}/", {"trans_id": "t-9"})

    assert response.json()["success"] is True
    assert list(Conversion.objects.values_list("click_id", flat=True).order_by("id")) == ["c1", "t-9"]


def test_a_copy_that_would_accept_is_confirmed_before_it_does(client, network):
    assert _post(client, network, "c1").status_code == 200

    _change_elsewhere(Network, network.pk, require_known_click=True)

    assert _post(client, network, "never-generated").json()["reason"] == "unknown_click"


def test_a_network_added_by_another_process_is_accepted_at_once(client, network):
    _post(client, network, "warm-up")
    Network.objects.bulk_create([Network(name="Newcomer", key="newcomer-key-0123456789")])  # no signal: elsewhere
    token_changed_elsewhere()

    response = client.get("/postback/newcomer-key-0123456789/", {"click_id": "n1"})

    assert response.json()["success"] is True


def test_an_accepted_postback_on_an_unchanged_copy_reads_no_token_of_its_own(client, network, monkeypatch):
    _post(client, network, "warm-up")
    monkeypatch.setattr("partners.forwarding.wake_drainer", lambda: None)  # the routing's own read is the worker's

    with CaptureQueriesContext(connection) as captured:
        _post(client, network, "c2")

    token_reads = [q["sql"] for q in captured.captured_queries if ConfigVersion._meta.db_table in q["sql"]]
    assert len(token_reads) == 1, token_reads  # the click's statement, and nothing else


def test_a_partner_activated_by_another_process_gets_the_next_conversion(client, network, partner):
    second = Partner.objects.create(name="Second", postback_url=partner.postback_url, is_active=False)
    _post(client, network, "c1")

    _change_elsewhere(Partner, second.pk, is_active=True)
    _post(client, network, "c2")

    assert len(_deliveries("c1")) == 1
    assert len(_deliveries("c2")) == 2


def test_a_key_rotated_here_is_used_by_the_next_postback(client, network):
    _post(client, network, "c1")
    old_key = network.key

    network.rotate_key()

    assert client.get(f"/postback/{old_key}/", {"click_id": "c2"}).json()["reason"] == "unknown_key"
    assert _post(client, network, "c3").status_code == 200


def test_a_partner_switched_off_with_a_queryset_update_gets_nothing_more(client, network, partner):
    _post(client, network, "c1")

    Partner.objects.filter(pk=partner.pk).update(is_active=False)
    _post(client, network, "c2")

    assert len(_deliveries("c1")) == 1
    assert _deliveries("c2") == []


def test_an_auto_disabled_partner_is_seen_at_once_and_its_new_deliveries_are_parked(client, network, partner):
    _post(client, network, "c1")

    disable(partner, "answered 410 Gone")
    _post(client, network, "c2")

    assert [state for state, _reason in _deliveries("c2")] == ["parked"]


def test_a_network_filter_set_on_a_partner_applies_to_the_next_conversion(client, network, partner):
    other = Network.objects.create(name="Other")
    _post(client, network, "c1")

    partner.networks.set([other])
    _post(client, network, "c2")

    [(state, reason)] = _deliveries("c2")
    assert state == State.SKIPPED
    assert "not one of this partner's networks" in reason


def test_deleting_a_partners_only_offer_lifts_its_offer_filter(client, network, partner):
    offer = Offer.objects.create(network=network, name="Gone", url="https://acme.example/?s={click_id}")
    partner.offers.set([offer])
    _post(client, network, "c1")
    assert _deliveries("c1")[0][0] == State.SKIPPED

    offer.delete()
    _post(client, network, "c2")

    assert _deliveries("c2")[0][0] != State.SKIPPED


def test_without_a_token_row_nothing_is_cached(client, network):
    ConfigVersion.objects.all().delete()
    loads = []

    for _ in range(2):
        config.cached("probe", lambda: loads.append(1))

    assert len(loads) == 2
