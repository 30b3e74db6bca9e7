"""A delivery records the share it sends when it is made: in its currency, and in the house currency given a rate."""

from datetime import date
from decimal import Decimal

import pytest
import responses

from partners.models import Delivery, OfferShare, Partner, PayoutBasis
from receiver.models import ExchangeRate

URL = "https://p.example/pb"


@pytest.fixture
def partner(db):
    return Partner.objects.create(
        name="Pub", slug="pub", postback_url=URL + "?amount={payout}&cur={currency}", share_value=Decimal("70")
    )


@pytest.fixture
def convert(client, network, django_capture_on_commit_callbacks):
    def send(**params):
        with django_capture_on_commit_callbacks(execute=True):
            client.get(f"/postback/{network.key}/", {"click_id": "c1", "payout": "2.00", **params})
        delivery = Delivery.objects.order_by("-id").first()
        delivery.refresh_from_db()
        return delivery

    return send


@pytest.fixture
def eur_rate(db):
    return ExchangeRate.objects.create(currency="EUR", date=date(2000, 1, 1), rate=Decimal("1.10"))


@responses.activate
def test_a_succeeded_delivery_records_the_share_it_sent(partner, convert):
    responses.get(URL)

    delivery = convert(transaction_id="t1")

    assert (delivery.amount, delivery.amount_currency, delivery.house_amount) == (
        Decimal("1.40"),
        "USD",
        Decimal("1.40"),
    )
    assert "amount=1.40&cur=USD" in responses.calls[0].request.url


@responses.activate
def test_a_share_in_another_currency_is_converted_at_the_conversions_rate(partner, convert, eur_rate):
    responses.get(URL)

    delivery = convert(transaction_id="t1", currency="EUR")

    assert (delivery.amount, delivery.amount_currency, delivery.house_amount) == (
        Decimal("1.40"),
        "EUR",
        Decimal("1.54"),
    )


@responses.activate
def test_a_house_basis_share_is_already_in_the_house_currency(partner, convert, eur_rate):
    partner.payout_basis = PayoutBasis.HOUSE
    partner.save()
    responses.get(URL)

    delivery = convert(transaction_id="t1", currency="EUR")

    # 2.00 EUR at 1.10 is 2.20 USD, of which the partner gets 70%.
    assert (delivery.amount, delivery.amount_currency, delivery.house_amount) == (
        Decimal("1.54"),
        "USD",
        Decimal("1.54"),
    )
    assert "amount=1.54&cur=USD" in responses.calls[0].request.url


@responses.activate
def test_a_missing_rate_leaves_the_house_amount_empty(partner, convert):
    responses.get(URL)

    delivery = convert(transaction_id="t1", currency="GBP")

    assert (delivery.amount, delivery.amount_currency, delivery.house_amount) == (Decimal("1.40"), "GBP", None)


@responses.activate
def test_an_offer_share_is_what_is_recorded(partner, convert, offer, click):
    OfferShare.objects.create(partner=partner, offer=offer, share_value=Decimal("50"))
    responses.get(URL)

    delivery = convert(click_id=click.click_id, transaction_id="t1")

    assert delivery.amount == Decimal("1.00")
    assert "amount=1.00" in responses.calls[0].request.url


@responses.activate
def test_a_failed_attempt_keeps_the_amount_fixed_when_the_delivery_was_made(partner, convert):
    responses.get(URL, status=500)

    delivery = convert(transaction_id="t1")

    assert delivery.state == "retrying"
    assert (delivery.effect, delivery.amount, delivery.amount_currency) == ("credit", Decimal("1.40"), "USD")
