"""A conversion's money over its whole life: fixed at each event, taken back exactly, netting to what it is worth."""

from datetime import date
from decimal import Decimal
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.core.exceptions import ValidationError
from django.core.management import call_command

from partners.models import Delivery, Partner, PayoutBasis, ShareType
from receiver.ledger import balance
from receiver.models import Conversion, ConversionEvent, ExchangeRate

URL = "https://p.example/pb"
TEMPLATE = URL + "?s={status}&e={effect}&p={payout}&prev={previous_payout}&d={payout_delta}&c={currency}&pts={points}"


@pytest.fixture
def seventy(db):
    return Partner.objects.create(name="Seventy", postback_url=TEMPLATE, share_value=Decimal("70"))


@pytest.fixture
def house(db):
    return Partner.objects.create(
        name="House", postback_url=TEMPLATE, share_value=Decimal("70"), payout_basis=PayoutBasis.HOUSE
    )


@pytest.fixture
def send(client, network, django_capture_on_commit_callbacks):
    network.allow_reapproval = True
    network.save()

    def postback(status, payout="2.00", **params):
        query = {"click_id": "c1", "transaction_id": "t1", "user_id": "alice", "status": status, "payout": payout}
        with django_capture_on_commit_callbacks(execute=True):
            return client.get(f"/postback/{network.key}/", {**query, **params}).json()

    return postback


@pytest.fixture
def told():
    """What each partner was told, in order: (status, effect, payout, currency), from the requests sent."""
    responses.start()
    responses.get(URL)
    yield lambda: [_said(call.request.url) for call in responses.calls]
    responses.stop()
    responses.reset()


def _said(url):
    query = {name: values[0] for name, values in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}
    return query["s"], query["e"], query["p"], query["c"]


def net(partner):
    """What the partner holds from the conversion: credits minus debits."""
    total = Decimal(0)
    for delivery in Delivery.objects.filter(destination=partner).exclude(state="skipped"):
        total += {"credit": 1, "debit": -1}.get(delivery.effect, 0) * delivery.amount
    return total


def test_a_reversal_takes_back_what_the_approval_gave_whatever_payout_it_carries(send, told, seventy):
    for status, payout in [("pending", "2.00"), ("approved", "2.00"), ("reversed", "1.00"), ("approved", "2.00")]:
        send(status, payout)
    send("rejected", "9.99")

    assert told() == [
        ("pending", "none", "1.40", "USD"),
        ("approved", "credit", "1.40", "USD"),
        ("reversed", "debit", "1.40", "USD"),
        ("approved", "credit", "1.40", "USD"),
        ("rejected", "debit", "1.40", "USD"),
    ]
    assert net(seventy) == 0
    assert Conversion.objects.get().payout == Decimal("2.00")


def test_a_rejection_after_approval_takes_back_the_house_amount_given_not_the_networks_new_payout(send, told, house):
    ExchangeRate.objects.create(currency="EUR", date=date(2000, 1, 1), rate=Decimal("1.20"))

    send("approved", "2.00", currency="EUR")
    send("rejected", "9.99", currency="EUR")

    assert told() == [("approved", "credit", "1.68", "USD"), ("rejected", "debit", "1.68", "USD")]
    assert net(house) == 0


def test_a_status_change_keeps_the_rate_the_conversion_was_made_at(send, told, house):
    rate = ExchangeRate.objects.create(currency="EUR", date=date(2000, 1, 1), rate=Decimal("1.10"))
    send("approved", "2.00", currency="EUR")
    rate.rate = Decimal("1.20")
    rate.save()

    send("reversed", "2.00", currency="EUR")
    send("approved", "2.00", currency="EUR")

    conversion = Conversion.objects.get()
    assert (conversion.exchange_rate, conversion.house_payout) == (Decimal("1.10"), Decimal("2.20"))
    assert list(conversion.points_entries.order_by("id").values_list("delta", flat=True)) == [220, -220, 220]
    assert [payout for _status, _effect, payout, _currency in told()] == ["1.54", "1.54", "1.54"]


def test_a_new_payout_under_approval_is_an_adjustment_sent_to_partners_who_take_them(send, told, seventy):
    adjusting = Partner.objects.create(
        name="Adjusting", postback_url=TEMPLATE + "&a=1", share_value=Decimal("70"), send_adjustments=True
    )
    send("approved", "2.00")

    answer = send("approved", "2.50")

    assert (answer["success"], answer["message"]) == (True, "Payout changed from 2.00 to 2.50")
    event = ConversionEvent.objects.order_by("-id").first()
    assert (event.kind, event.previous_payout, event.payout) == ("adjustment", Decimal("2.00"), Decimal("2.50"))
    adjustment = responses.calls[-1].request.url
    assert "a=1" in adjustment
    assert _said(adjustment) == ("approved", "credit", "1.75", "USD")
    assert "prev=1.40&d=0.35" in adjustment
    assert Delivery.objects.get(event=event, destination=seventy).state == "skipped"
    assert balance("alice") == 250

    send("reversed", "2.50")

    assert (net(seventy), net(adjusting)) == (0, 0)
    assert sorted(told()[-2:]) == [("reversed", "debit", "1.40", "USD"), ("reversed", "debit", "1.75", "USD")]
    assert balance("alice") == 0


def test_the_same_payout_again_is_still_a_duplicate(send, told, seventy):
    send("approved", "2.00")

    assert send("approved", "2.00")["duplicate"] is True
    assert len(told()) == 1


def test_a_retry_sends_the_amount_fixed_at_the_event_whatever_the_share_became(
    send, seventy, django_capture_on_commit_callbacks
):
    with responses.RequestsMock() as mock:
        mock.get(URL, status=500)
        send("approved", "2.00")
    Partner.objects.filter(pk=seventy.pk).update(share_value=Decimal("50"))
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)

    with responses.RequestsMock() as mock:
        mock.get(URL)
        with django_capture_on_commit_callbacks(execute=True):
            call_command("redeliver", "--delivery", str(delivery.pk), stdout=StringIO())
        assert _said(mock.calls[0].request.url) == ("approved", "credit", "1.40", "USD")


def test_a_house_partner_waits_for_a_missing_rate_then_is_paid_in_the_house_currency(
    send, told, house, seventy, django_capture_on_commit_callbacks
):
    send("approved", "10.00", currency="GBP")

    assert told() == [("approved", "credit", "7.00", "GBP")]  # the original-basis partner only
    waiting = Delivery.objects.get(destination=house)
    assert (waiting.state, waiting.amount) == ("waiting_rate", None)

    ExchangeRate.objects.create(currency="GBP", date=date(2000, 1, 1), rate=Decimal("1.25"))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reconvert", stdout=StringIO())

    assert told()[-1] == ("approved", "credit", "8.75", "USD")
    paid = {d.destination_id: d for d in Delivery.objects.all()}
    assert (paid[house.pk].state, paid[house.pk].house_amount) == ("succeeded", Decimal("8.75"))
    assert paid[seventy.pk].house_amount == Decimal("8.75")


def test_a_take_back_of_a_delivery_still_waiting_for_its_rate_waits_too(
    send, told, house, django_capture_on_commit_callbacks
):
    send("approved", "10.00", currency="GBP")
    send("reversed", "10.00", currency="GBP")

    assert list(Delivery.objects.order_by("id").values_list("state", flat=True)) == ["waiting_rate", "waiting_rate"]

    ExchangeRate.objects.create(currency="GBP", date=date(2000, 1, 1), rate=Decimal("1.25"))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reconvert", stdout=StringIO())

    assert told() == [("approved", "credit", "8.75", "USD"), ("reversed", "debit", "8.75", "USD")]


@pytest.mark.parametrize(
    ("share", "places", "currency", "payout", "sent"),
    [
        ("33.3333", None, "USD", "3.00", "1.00"),
        ("33.3333", 4, "USD", "3.00", "1.0000"),
        ("70", None, "JPY", "333", "233"),
        ("50", None, "USD", "0.01", "0.01"),  # 0.005 rounds half up
    ],
)
def test_payout_is_rounded_half_up_to_the_currencys_minor_unit_unless_the_partner_keeps_more(
    send, told, db, share, places, currency, payout, sent
):
    Partner.objects.create(name="P", postback_url=TEMPLATE, share_value=Decimal(share), payout_places=places)

    send("approved", payout, currency=currency)

    assert told()[0][2] == sent
    assert Delivery.objects.get().amount == Decimal(sent)


def test_a_house_basis_minimum_payout_compares_the_house_amount(send, told, db):
    ExchangeRate.objects.create(currency="EUR", date=date(2000, 1, 1), rate=Decimal("1.50"))
    Partner.objects.create(
        name="Min",
        postback_url=TEMPLATE,
        payout_basis=PayoutBasis.HOUSE,
        min_payout=Decimal("2.50"),
        share_type=ShareType.PERCENT,
    )

    send("approved", "2.00", currency="EUR")  # 3.00 USD: above the minimum, though 2.00 is not

    assert told() == [("approved", "credit", "3.00", "USD")]


@pytest.mark.parametrize(
    ("share_currency", "conversion_currency", "payout", "sent"),
    [
        ("", "EUR", "2.00", ("approved", "credit", "0.50", "USD")),  # the house currency, whatever the payout's
        ("EUR", "EUR", "2.00", ("approved", "credit", "0.50", "EUR")),
        ("GBP", "EUR", "2.00", ("approved", "credit", "0.50", "GBP")),
        ("", "USD", "0.01", ("approved", "credit", "0.01", "USD")),  # never more than the conversion pays
        ("USD", "EUR", "0.20", ("approved", "credit", "0.22", "USD")),  # 0.20 EUR is 0.22 USD: the cap
    ],
)
def test_a_fixed_share_is_paid_in_its_own_currency_and_never_more_than_the_conversion(
    send, told, db, share_currency, conversion_currency, payout, sent
):
    ExchangeRate.objects.create(currency="EUR", date=date(2000, 1, 1), rate=Decimal("1.10"))
    ExchangeRate.objects.create(currency="GBP", date=date(2000, 1, 1), rate=Decimal("1.25"))
    Partner.objects.create(
        name="Fixed",
        postback_url=TEMPLATE,
        share_type=ShareType.FIXED,
        share_value=Decimal("0.50"),
        share_currency=share_currency,
    )

    send("approved", payout, currency=conversion_currency)

    assert told() == [sent]
    delivery = Delivery.objects.get()
    assert delivery.house_amount == {"USD": Decimal(sent[2]), "EUR": Decimal("0.55"), "GBP": Decimal("0.625")}[sent[3]]


def test_a_fixed_share_in_a_currency_without_a_rate_waits_for_it(send, told, db):
    Partner.objects.create(
        name="Fixed",
        postback_url=TEMPLATE,
        share_type=ShareType.FIXED,
        share_value=Decimal("0.50"),
        share_currency="CHF",
    )

    send("approved", "2.00")

    assert told() == []
    assert Delivery.objects.get().state == "waiting_rate"


@pytest.mark.parametrize(
    ("share_type", "value", "currency", "message"),
    [
        (ShareType.PERCENT, "70", "EUR", "only a fixed share has a currency"),
        (ShareType.FIXED, "0.50", "euro", "is not a three-letter code"),
    ],
)
def test_a_share_currency_is_a_code_and_only_for_fixed_shares(db, share_type, value, currency, message):
    partner = Partner(
        name="Bad", postback_url=URL, share_type=share_type, share_value=Decimal(value), share_currency=currency
    )

    with pytest.raises(ValidationError, match=message):
        partner.full_clean()


def test_the_delivery_list_shows_each_deliverys_effect_on_the_partners_books(send, told, seventy, admin_client):
    send("pending")
    send("approved")
    send("reversed")

    page = admin_client.get("/admin/partners/delivery/").content.decode()

    assert "(1.40 USD)" in page
    assert "+1.40 USD" in page
    assert "-1.40 USD" in page
