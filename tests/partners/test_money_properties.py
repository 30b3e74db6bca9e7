"""Property test of a conversion's money over any life: statuses, payouts, share edits, rates arriving, resends.

Whatever the sequence, each partner's deliveries (and the requests a local partner received, each delivery counted
once by its webhook-id) net to what the conversion is worth to it at its final status, every try of a delivery
sends the same amount, the user's points net to what the final status earns, and the dashboard's payouts and the
API's amounts are those of the rows.
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from partners import signing
from partners.figures import compute as compute_stats
from partners.models import Delivery, Effect, Partner, PayoutBasis, ShareType, State
from partners.money import partner_share, round_payout
from receiver.ledger import balance, points_for
from receiver.lifecycle import Status
from receiver.models import Conversion, ExchangeRate, Network
from tests.support.sink import Reply

QUERY = "?e={effect}&p={payout}&d={payout_delta}&c={currency}"
RATES = {"USD": Decimal(1), "EUR": Decimal("1.10")}
GBP_RATE = Decimal("1.25")  # arrives mid-way, or never
SIX = Decimal("0.000001")

percent = st.decimals(min_value=0, max_value=100, places=4)
fixed = st.decimals(min_value=0, max_value=5, places=2)
terms = st.one_of(
    st.tuples(st.just(ShareType.PERCENT), percent, st.just("")),
    st.tuples(st.just(ShareType.FIXED), fixed, st.sampled_from(["", "EUR"])),
)
partner_specs = st.fixed_dictionaries(
    {
        "terms": terms,
        "basis": st.sampled_from([PayoutBasis.ORIGINAL, PayoutBasis.HOUSE]),
        "places": st.sampled_from([None, None, 0, 4]),
        "adjustments": st.booleans(),
    }
)
payouts = st.decimals(min_value=0, max_value=50, places=2)
steps = st.one_of(
    st.tuples(st.just("postback"), st.sampled_from(list(Status)), payouts),
    st.tuples(st.just("share"), st.integers(0, 2), terms),
    st.tuples(st.just("resend"), st.integers(0, 50)),
    st.tuples(st.just("rate")),
)


class Books:
    """What each partner should hold, tracked from the outside: the share on the terms of the last credit."""

    def __init__(self, partners, currency):
        self.partners, self.currency = partners, currency
        self.held = {p.pk: Decimal(0) for p in partners}
        self.status, self.payout = None, None

    def expected(self, partner, payout):
        if partner.share_type == ShareType.FIXED:
            # In its own currency (the house's by default), capped at what the conversion pays in it.
            currency = partner.share_currency or "USD"
            rates = {**RATES, "GBP": GBP_RATE}
            in_house = (payout * rates[self.currency]).quantize(SIX, rounding=ROUND_HALF_UP)
            gross = payout if currency == self.currency else (in_house / rates[currency]).quantize(SIX, ROUND_HALF_UP)
            return round_payout(min(partner.share_value, gross), currency, partner.payout_places)
        if partner.payout_basis == PayoutBasis.HOUSE and self.currency != "USD":
            # A pound conversion is priced once its rate is in (until then the check leaves it out).
            rate = RATES.get(self.currency, GBP_RATE)
            gross, currency = (payout * rate).quantize(SIX, rounding=ROUND_HALF_UP), "USD"
        else:
            gross, currency = payout, self.currency
        return round_payout(partner_share(partner, gross), currency, partner.payout_places)

    def event(self, status, payout, adjustment):
        for partner in self.partners:
            partner.refresh_from_db()
            if status in (Status.REVERSED, Status.REJECTED):
                self.held[partner.pk] = Decimal(0)
            elif status == Status.APPROVED and (not adjustment or partner.send_adjustments):
                self.held[partner.pk] = self.expected(partner, payout)


def make_partners(specs, sink):
    partners = []
    for number, spec in enumerate(specs):
        share_type, share_value, share_currency = spec["terms"]
        partners.append(
            Partner.objects.create(
                name=f"P{number}",
                postback_url=sink.url("/pb") + QUERY,
                share_type=share_type,
                share_value=share_value,
                share_currency=share_currency,
                payout_basis=spec["basis"],
                payout_places=spec["places"],
                send_adjustments=spec["adjustments"],
                signing_secret=signing.generate_secret(),
            )
        )
    return partners


def sent_by_partner(received, partners):
    """{partner id: what it holds}, from what it was told once per webhook-id; every try of one said the same."""
    names = {p.name: p.pk for p in partners}
    by_webhook = {}
    for request in received:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query, keep_blank_values=True).items()}
        said = (query["e"], Decimal(query["p"]), Decimal(query["d"]), query["c"])
        webhook = request.headers["webhook-id"]
        assert by_webhook.setdefault(webhook, said) == said, "a retry or resend sent another amount"
    delivered = {d.webhook_id: d.destination_id for d in Delivery.objects.all()}
    net = {pk: Decimal(0) for pk in names.values()}
    for webhook, (effect, payout, delta, _currency) in by_webhook.items():
        # A partner adds {payout_delta} to what it holds; outside adjustments that is {payout} credited or debited.
        net[delivered[webhook]] += delta
        if Delivery.objects.get(webhook_id=webhook).event.kind != "adjustment":
            assert delta == {"credit": 1, "debit": -1}.get(effect, 0) * payout
    return net


def run(client, network, capture, sink, specs, currency, plan):
    partners = make_partners(specs, sink)
    books = Books(partners, currency)
    # Every other request fails: retries and resends must repeat the amounts.
    sink.script(*[Reply(500), Reply(200)] * 50)
    first = len(sink.received)
    for step in plan:
        if step[0] == "postback":
            _kind, status, payout = step
            before = Conversion.objects.first()
            query = {"click_id": "c1", "transaction_id": "t1", "user_id": "u1", "currency": currency}
            with capture(execute=True):
                answer = client.get(
                    f"/postback/{network.key}/", {**query, "status": status, "payout": f"{payout:f}"}
                ).json()
            if answer.get("success") and not answer.get("duplicate"):
                adjustment = before is not None and before.status == status
                books.event(status, Conversion.objects.get().payout, adjustment)
        elif step[0] == "share":
            _kind, index, (share_type, share_value, share_currency) = step
            Partner.objects.filter(pk=partners[index % len(partners)].pk).update(
                share_type=share_type, share_value=share_value, share_currency=share_currency
            )
        elif step[0] == "resend":
            rows = list(Delivery.objects.order_by("id"))
            if rows:
                with capture(execute=True):
                    call_command("redeliver", "--delivery", str(rows[step[1] % len(rows)].pk), stdout=StringIO())
        elif currency == "GBP" and not ExchangeRate.objects.filter(currency="GBP").exists():
            ExchangeRate.objects.create(currency="GBP", date=date(2000, 1, 1), rate=GBP_RATE)
            with capture(execute=True):
                call_command("reconvert", stdout=StringIO())
    # Every delivery goes out in the end: the failed first tries are resent until each succeeded.
    for _ in range(5):
        due = Delivery.objects.exclude(state__in=[State.SUCCEEDED, State.SKIPPED, State.WAITING_RATE])
        with capture(execute=True):
            for pk in due.values_list("pk", flat=True):
                call_command("redeliver", "--delivery", str(pk), stdout=StringIO())
    return partners, books, sink.received[first:]


def check(partners, books, calls, api):
    conversion = Conversion.objects.first()
    if conversion is None:
        return
    check_reports(conversion, api)
    waiting = Delivery.objects.filter(state=State.WAITING_RATE).exists()
    effects = sorted(set(Delivery.objects.values_list("effect", flat=True)))
    event(f"final {conversion.status}, effects {'+'.join(effects)}{', waiting' if waiting else ''}")
    for partner in partners:
        rows = Delivery.objects.filter(destination=partner).exclude(state__in=[State.SKIPPED, State.WAITING_RATE])
        net = sum(({"credit": 1, "debit": -1}.get(d.effect, 0) * d.amount for d in rows), Decimal(0))
        assert net >= 0, "a partner never holds less than nothing"
        if not waiting:
            assert net == books.held[partner.pk], (partner.name, net, books.held[partner.pk])
        if conversion.status != Status.APPROVED and not waiting:
            assert net == 0
    if not waiting:
        assert sent_by_partner(calls, partners) == books.held
    worth = points_for(conversion) if conversion.status == Status.APPROVED else 0
    assert balance("u1") == (worth or 0)
    assert not Delivery.objects.filter(effect=Effect.DEBIT, amount__lte=0).exists()


def check_reports(conversion, api):
    """The dashboard's payouts and gross, and the API's amounts, are those of the rows."""
    rows = Delivery.objects.filter(event__conversion=conversion)
    counted = conversion.status == Status.APPROVED and conversion.house_payout is not None
    paid = sum(
        ({"credit": 1, "debit": -1}.get(d.effect, 0) * d.house_amount for d in rows.filter(state=State.SUCCEEDED)),
        Decimal(0),
    )
    today = conversion.created_at.date()
    stats = compute_stats(today, today)
    assert stats.gross == (conversion.house_payout if counted else 0)
    if counted and not rows.filter(state=State.SUCCEEDED, house_amount__isnull=True).exclude(effect="none").exists():
        assert stats.partner_payouts == paid
    listed = api.get("/api/v1/deliveries/", {"conversion": conversion.pk, "page_size": 500}).json()["results"]
    assert {(row["id"], row["effect"], row["amount"]) for row in listed} == {
        (d.pk, d.effect, None if d.amount is None else f"{d.amount:.6f}") for d in rows
    }


@pytest.mark.django_db
@override_settings(OUTBOUND_ALLOW_LOOPBACK=True)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    specs=st.lists(partner_specs, min_size=1, max_size=3),
    currency=st.sampled_from(["USD", "EUR", "GBP"]),
    plan=st.lists(steps, min_size=1, max_size=10),
)
def test_any_life_of_a_conversion_nets_to_what_it_is_worth(
    client, admin_client, django_capture_on_commit_callbacks, sink, specs, currency, plan
):
    with transaction.atomic():
        cache.clear()  # the rate limits count per example
        network = Network.objects.create(name="Net", allow_reapproval=True)
        ExchangeRate.objects.create(currency="EUR", date=date(2000, 1, 1), rate=RATES["EUR"])
        partners, books, calls = run(client, network, django_capture_on_commit_callbacks, sink, specs, currency, plan)
        check(partners, books, calls, admin_client)
        transaction.set_rollback(True)
