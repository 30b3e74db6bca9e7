"""GET /click/<offer_id>/: record one of our clicks and redirect to the offer with its id filled in."""

import pytest
from django.test import override_settings

from receiver.models import Click, Offer


def click_url(offer_id):
    return f"/click/{offer_id}/"


def test_a_click_is_stored_with_the_user_subs_address_and_user_agent(client, offer):
    client.get(
        click_url(offer.pk),
        {"user_id": "u", "sub1": "a", "sub2": "b", "sub5": "e"},
        headers={"user-agent": "Mozilla/5.0 (test)"},
        REMOTE_ADDR="198.51.100.7",
    )

    click = Click.objects.get()
    assert click.offer == offer
    assert (click.user_id, click.sub1, click.sub2, click.sub3, click.sub4, click.sub5) == ("u", "a", "b", "", "", "e")
    assert click.ip == "198.51.100.7"
    assert click.user_agent == "Mozilla/5.0 (test)"
    assert len(click.click_id) == 32


def test_it_redirects_to_the_offer_url_with_the_click_id(client, offer):
    response = client.get(click_url(offer.pk), {"user_id": "u", "sub1": "a"})

    click = Click.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"https://acme.example/go?sub={click.click_id}"


def test_the_redirect_is_not_cached(client, offer):
    response = client.get(click_url(offer.pk))

    assert "no-cache" in response["Cache-Control"]


def test_each_click_gets_its_own_id(client, offer):
    first = client.get(click_url(offer.pk))["Location"]
    second = client.get(click_url(offer.pk))["Location"]

    assert first != second
    assert Click.objects.count() == 2


def test_the_click_id_is_url_encoded_in_the_destination(offer):
    click = Click(offer=offer, click_id="a b&c=d/e?f")

    assert offer.destination_for(click) == "https://acme.example/go?sub=a%20b%26c%3Dd%2Fe%3Ff"


def test_every_click_id_placeholder_is_filled_in(client, network):
    offer = Offer.objects.create(network=network, name="Twice", url="https://acme.example/{click_id}?again={click_id}")

    response = client.get(click_url(offer.pk))

    click_id = Click.objects.get().click_id
    assert response["Location"] == f"https://acme.example/{click_id}?again={click_id}"


def test_a_click_without_parameters_is_stored_blank(client, offer):
    client.get(click_url(offer.pk))

    click = Click.objects.get()
    assert (click.user_id, click.sub1, click.user_agent) == ("", "", "")


def test_long_values_are_cut_to_their_column_size(client, offer):
    client.get(click_url(offer.pk), {"user_id": "u" * 500, "sub3": "s" * 500}, headers={"user-agent": "x" * 500})

    click = Click.objects.get()
    assert (len(click.user_id), len(click.sub3), len(click.user_agent)) == (200, 200, 300)


def test_the_forwarded_address_is_ignored_unless_the_proxy_is_trusted(client, offer):
    client.get(click_url(offer.pk), headers={"x-forwarded-for": "203.0.113.9"}, REMOTE_ADDR="10.0.0.1")

    assert Click.objects.get().ip == "10.0.0.1"


@override_settings(RECEIVER_TRUSTED_PROXIES=1)
def test_behind_a_trusted_proxy_the_address_the_proxy_saw_is_stored(client, offer):
    client.get(click_url(offer.pk), headers={"x-forwarded-for": "203.0.113.9, 198.51.100.2"}, REMOTE_ADDR="10.0.0.1")

    assert Click.objects.get().ip == "198.51.100.2"


def test_an_unknown_offer_is_404(client, offer):
    response = client.get(click_url(offer.pk + 1000))

    assert response.status_code == 404
    assert not Click.objects.exists()


def test_an_offer_id_beyond_the_id_range_is_404(client, offer):
    response = client.get(click_url(10**30))

    assert response.status_code == 404
    assert not Click.objects.exists()


def test_an_inactive_offer_is_404(client, offer):
    offer.is_active = False
    offer.save()

    response = client.get(click_url(offer.pk))

    assert response.status_code == 404
    assert not Click.objects.exists()


def test_an_offer_of_an_inactive_network_is_404(client, offer, network):
    network.is_active = False
    network.save()

    response = client.get(click_url(offer.pk))

    assert response.status_code == 404
    assert not Click.objects.exists()


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_only_get_records_a_click(client, offer, method):
    response = getattr(client, method)(click_url(offer.pk))

    assert response.status_code == 405
    assert not Click.objects.exists()
