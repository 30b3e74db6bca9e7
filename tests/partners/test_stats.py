"""The stats dashboard: exact figures for a known fixture, its filters, who may see it, and its daily chart."""

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from django.utils import timezone

from partners.charts import MIN_DAYS, charted, daily_chart
from partners.figures import Day, compute
from partners.models import Delivery, Effect, NetworkPostback, Partner, State
from receiver.models import Click, Conversion, ConversionEvent, Network, Offer, PointsEntry, ReceivedPostback
from tests.support.permissions import staff_with

START, END = date(2026, 3, 1), date(2026, 3, 31)
DAY1, DAY2, DAY3, BEFORE = date(2026, 3, 2), date(2026, 3, 5), date(2026, 3, 9), date(2026, 2, 20)
URL = "/admin/stats/"


def at(day, hour=12):
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


@pytest.fixture
def world(db):
    """Two networks, three offers, two sending partners and one disabled, and a month of traffic."""
    acme, beta = Network.objects.create(name="Acme"), Network.objects.create(name="Beta")
    survey = Offer.objects.create(network=acme, name="Survey", url="https://a.example/?s={click_id}")
    game = Offer.objects.create(network=acme, name="Game", url="https://a.example/?g={click_id}")
    shop = Offer.objects.create(network=beta, name="Shop", url="https://b.example/?s={click_id}")
    pub = Partner.objects.create(name="Pub", slug="pub", postback_url="https://p.example/?c={click_id}")
    wall = Partner.objects.create(
        name="Wall", slug="wall", postback_url="https://w.example/?c={click_id}", failing_since=at(DAY3)
    )
    Partner.objects.create(
        name="Gone", postback_url="https://g.example/", disabled_at=at(DAY3), disabled_reason="answered 410 Gone"
    )

    clicks = {slug: Click.objects.create(offer=survey, partner_slug=slug, created_at=at(DAY1)) for slug in ("", "pub")}
    clicks["wall"] = Click.objects.create(offer=survey, partner_slug="wall", created_at=at(DAY1))
    Click.objects.create(offer=survey, created_at=at(DAY1))
    Click.objects.create(offer=shop, created_at=at(DAY2))
    Click.objects.create(offer=survey, created_at=at(BEFORE))

    def conversion(offer, status, payout, currency, house, day, rate=None, missing=False, test=False, click=None):
        row = Conversion.objects.create(
            network=offer.network,
            offer=offer,
            known_click=click,
            click_id=f"c{Conversion.objects.count()}",
            status=status,
            payout=Decimal(payout),
            currency=currency,
            house_payout=None if missing else Decimal(house),
            exchange_rate=None if missing else Decimal(rate or "1"),
            rate_state="missing_rate" if missing else "converted",
            is_test=test,
            created_at=at(day),
        )
        return row

    def event(conv, to_status, day, kind="created"):
        return ConversionEvent.objects.create(
            conversion=conv, kind=kind, to_status=to_status, payout=conv.payout, created_at=at(day)
        )

    def deliver(ev, partner, state=State.SUCCEEDED, amount=None, currency="USD", house=None, effect=Effect.CREDIT):
        return Delivery.objects.create(
            event=ev,
            destination=partner,
            state=state,
            effect=effect if amount else Effect.NONE,
            amount=amount and Decimal(amount),
            amount_currency=currency if amount else "",
            house_amount=house and Decimal(house),
            created_at=ev.created_at,
        )

    # Two of the month's five clicks converted (one that came through Wall); the other conversions match no click.
    usd = conversion(survey, "approved", "2.00", "USD", "2.00", DAY1, click=clicks[""])
    eur = conversion(survey, "approved", "3.00", "EUR", "3.30", DAY2, rate="1.10")
    gbp = conversion(shop, "approved", "5.00", "GBP", None, DAY2, missing=True)
    reversed_ = conversion(survey, "reversed", "4.00", "USD", "4.00", DAY2, click=clicks["wall"])
    pending = conversion(game, "pending", "1.00", "USD", "1.00", DAY3)
    test = conversion(survey, "approved", "100.00", "USD", "100.00", DAY1, test=True)
    old = conversion(survey, "approved", "9.00", "USD", "9.00", BEFORE)

    deliver(event(usd, "approved", DAY1), pub, amount="1.40", house="1.40")
    deliver(Delivery.objects.get(destination=pub).event, wall, amount="0.50", house="0.50")
    deliver(event(eur, "approved", DAY2), pub, amount="2.10", currency="EUR", house="2.31")
    deliver(event(gbp, "approved", DAY2), wall, amount="3.50", currency="GBP")
    deliver(event(gbp, "approved", DAY2, "status_change"), pub, state=State.SKIPPED)
    deliver(event(reversed_, "approved", DAY2), pub, amount="2.80", house="2.80")
    deliver(event(reversed_, "reversed", DAY3, "status_change"), pub, amount="2.80", house="2.80", effect=Effect.DEBIT)
    deliver(event(pending, "pending", DAY3), pub, state=State.FAILED)
    deliver(event(test, "approved", DAY1), pub, amount="70.00", house="70.00")
    deliver(event(old, "approved", BEFORE), pub, amount="6.30", house="6.30")

    for conv, delta, day in [(usd, 200, DAY1), (eur, 330, DAY2), (reversed_, 400, DAY2), (reversed_, -400, DAY3)]:
        PointsEntry.objects.create(user_id="u", delta=delta, reason="r", conversion=conv, created_at=at(day))
    PointsEntry.objects.create(user_id="u", delta=10000, reason="r", conversion=test, created_at=at(DAY1))
    PointsEntry.objects.create(user_id="u", delta=900, reason="r", conversion=old, created_at=at(BEFORE))

    def postback(network, outcome, reason="", conv=None, day=DAY2):
        ReceivedPostback.objects.create(
            network=network, outcome=outcome, reason=reason, conversion=conv, received_at=at(day), method="GET"
        )

    for conv in (usd, eur, reversed_, pending):
        postback(conv.network, "accepted", conv=conv)
    postback(gbp.network, "accepted", conv=gbp)
    postback(acme, "status_change", conv=reversed_)
    postback(acme, "duplicate", conv=usd)
    postback(acme, "accepted", conv=test)
    postback(acme, "rejected", "unknown_click")
    postback(acme, "rejected", "unknown_click")
    postback(beta, "rejected", "invalid_input")
    postback(None, "rejected", "missing_key")
    postback(acme, "rejected", "unknown_click", day=BEFORE)
    return {"acme": acme, "beta": beta, "survey": survey, "game": game, "shop": shop, "pub": pub, "wall": wall}


def test_the_figures_of_a_known_month_are_exact(world, django_assert_max_num_queries):
    # 10 for the figures, 6 for the clicks claims reported and the tables per network, offer and type.
    with django_assert_max_num_queries(16):
        figures = compute(START, END)

    assert (figures.clicks, figures.converted_clicks) == (5, 2)
    assert figures.conversions == {"total": 5, "approved": 3, "pending": 1, "rejected": 0, "reversed": 1}
    assert figures.conversion_rate == Decimal("40.00")
    assert (figures.gross, figures.gross_missing_rate) == (Decimal("5.30"), 1)
    # 1.40 + 0.50 + 2.31: the reversed conversion's payout and the GBP one without a rate (not in gross) are left out.
    assert (figures.partner_payouts, figures.payouts_missing_rate) == (Decimal("4.21"), 0)
    assert figures.margin == Decimal("1.09")
    assert (figures.points_issued, figures.points_net) == (930, 530)
    assert figures.postbacks == {
        "total": 11,
        "accepted": 5,
        "duplicate": 1,
        "status_change": 1,
        "adjustment": 0,
        "rejected": 4,
    }
    assert figures.rejected_by_reason == [("unknown_click", 2), ("invalid_input", 1), ("missing_key", 1)]
    assert figures.deliveries == {
        "total": 8,
        "waiting_rate": 0,
        "pending": 0,
        "sending": 0,
        "retrying": 0,
        "succeeded": 6,
        "failed": 1,
        "cancelled": 0,
        "skipped": 1,
        "parked": 0,
    }
    assert [(p.name, p.last_error) for p in figures.failing_partners] == [("Gone", ""), ("Wall", "")]
    by_day = {d.day: (d.conversions, d.gross) for d in figures.daily if d.conversions}
    assert by_day == {DAY1: (1, Decimal("2.00")), DAY2: (3, Decimal("3.30")), DAY3: (1, Decimal("0"))}
    assert len(figures.daily) == 31


def test_a_network_narrows_everything_to_it(world):
    figures = compute(START, END, network=world["acme"])

    assert figures.clicks == 4
    assert figures.conversions["total"] == 4
    assert (figures.gross, figures.gross_missing_rate) == (Decimal("5.30"), 0)
    assert (figures.partner_payouts, figures.payouts_missing_rate) == (Decimal("4.21"), 0)
    assert figures.postbacks["rejected"] == 2
    assert figures.deliveries["total"] == 6


def test_an_offer_narrows_conversions_and_clicks_to_it(world):
    figures = compute(START, END, offer=world["game"])

    assert figures.clicks == 0
    assert figures.conversions == {"total": 1, "approved": 0, "pending": 1, "rejected": 0, "reversed": 0}
    assert figures.conversion_rate is None
    assert (figures.gross, figures.partner_payouts, figures.margin) == (Decimal("0"), Decimal("0"), Decimal("0"))
    assert figures.deliveries["failed"] == 1


def test_a_partner_narrows_to_what_was_delivered_to_it(world):
    figures = compute(START, END, partner=world["wall"])

    assert figures.clicks == 1
    assert figures.conversions["total"] == 2
    assert (figures.gross, figures.gross_missing_rate) == (Decimal("2.00"), 1)
    assert (figures.partner_payouts, figures.payouts_missing_rate) == (Decimal("0.50"), 0)
    assert figures.margin == Decimal("1.50")
    assert figures.points_issued == 200
    assert figures.deliveries["total"] == 2
    assert [p.name for p in figures.failing_partners] == ["Wall"]


def test_the_conversion_rate_counts_conversions_of_the_counted_clicks_only(world):
    # Conversions without a click of ours (4 of 5 this month) or delivered to a partner its clicks did not come through
    # made the rate 100 % overall and 400 % for Pub: each rate is now of the clicks it counts.
    overall = compute(START, END)
    pub = compute(START, END, partner=world["pub"])
    wall = compute(START, END, partner=world["wall"])

    assert (overall.clicks, overall.converted_clicks, overall.conversion_rate) == (5, 2, Decimal("40.00"))
    assert (pub.clicks, pub.conversions["total"], pub.converted_clicks, pub.conversion_rate) == (1, 4, 0, Decimal(0))
    assert (wall.clicks, wall.converted_clicks, wall.conversion_rate) == (1, 1, Decimal("100.00"))


def test_a_click_converted_by_a_test_conversion_only_does_not_count_as_converted(world):
    Conversion.objects.filter(is_test=True).update(known_click=Click.objects.get(partner_slug="pub"))

    assert compute(START, END, partner=world["pub"]).converted_clicks == 0


def test_a_skipped_delivery_does_not_tie_a_conversion_to_the_partner(world):
    figures = compute(START, END, partner=world["pub"])

    # usd, eur, reversed, pending: the GBP one was skipped for Pub.
    assert figures.conversions["total"] == 4
    assert figures.partner_payouts == Decimal("3.71")


def test_the_period_bounds_are_whole_days_both_included(world):
    figures = compute(DAY2, DAY2)

    assert figures.clicks == 1
    assert figures.conversions["total"] == 3
    assert figures.gross == Decimal("3.30")
    assert (figures.points_issued, figures.points_net) == (730, 730)
    assert len(figures.daily) == 1


def test_a_test_conversion_never_counts(world):
    figures = compute(DAY1, DAY1)

    assert figures.conversions["total"] == 1
    assert figures.gross == Decimal("2.00")
    assert figures.partner_payouts == Decimal("1.90")
    assert figures.points_issued == 200
    assert figures.postbacks["total"] == 0


@pytest.fixture
def sale(db):
    """One approved conversion of 10.00 USD on DAY1 and a partner; `send` adds a succeeded delivery of an event."""
    acme = Network.objects.create(name="Acme")
    offer = Offer.objects.create(network=acme, name="Survey", url="https://a.example/?s={click_id}")
    pub = Partner.objects.create(name="Pub", slug="pub", postback_url="https://p.example/?c={click_id}")
    conv = Conversion.objects.create(
        network=acme,
        offer=offer,
        click_id="c1",
        status="approved",
        payout=Decimal("10.00"),
        currency="USD",
        house_payout=Decimal("10.00"),
        exchange_rate=Decimal("1"),
        rate_state="converted",
        created_at=at(DAY1),
    )

    def send(to_status, effect, amount, partner=pub, kind="status_change", state=State.SUCCEEDED, house="same"):
        ev = ConversionEvent.objects.create(
            conversion=conv, kind=kind, to_status=to_status, payout=conv.payout, created_at=at(DAY1)
        )
        return Delivery.objects.create(
            event=ev,
            destination=partner,
            state=state,
            effect=effect,
            amount=Decimal(amount),
            amount_currency="USD",
            house_amount=Decimal(amount) if house == "same" else house,
            created_at=at(DAY1),
        )

    return {"conversion": conv, "pub": pub, "send": send}


def test_a_re_approved_conversion_counts_the_partners_share_once(sale):
    send = sale["send"]
    send("approved", Effect.CREDIT, "7.00", kind="created")
    send("reversed", Effect.DEBIT, "7.00")
    send("approved", Effect.CREDIT, "7.00")

    figures = compute(START, END)

    assert (figures.gross, figures.partner_payouts, figures.margin) == (
        Decimal("10.00"),
        Decimal("7.00"),
        Decimal("3.00"),
    )


def test_a_payout_change_counts_the_partners_new_share(sale):
    send = sale["send"]
    send("approved", Effect.CREDIT, "7.00", kind="created")
    send("approved", Effect.DEBIT, "1.40", kind="adjustment")
    send("approved", Effect.CREDIT, "0.35", kind="adjustment")

    figures = compute(START, END)

    assert figures.partner_payouts == Decimal("5.95")


def test_only_succeeded_credits_and_take_backs_count(sale):
    send = sale["send"]
    send("pending", Effect.NONE, "7.00", kind="created")
    send("approved", Effect.CREDIT, "7.00")
    send("reversed", Effect.DEBIT, "7.00", state=State.FAILED)
    send("approved", Effect.CREDIT, "7.00", partner=Partner.objects.create(name="Wall", postback_url="https://w/"))
    send("approved", Effect.CREDIT, "3.00", state=State.WAITING_RATE, house=None)

    figures = compute(START, END)

    assert (figures.partner_payouts, figures.payouts_missing_rate) == (Decimal("14.00"), 0)
    assert compute(START, END, partner=sale["pub"]).partner_payouts == Decimal("7.00")


def test_a_payout_without_a_house_amount_is_counted_apart(sale):
    send = sale["send"]
    send("approved", Effect.CREDIT, "7.00", kind="created")
    send("approved", Effect.CREDIT, "1.00", partner=Partner.objects.create(name="Wall", postback_url="https://w/"))
    Delivery.objects.filter(destination__name="Wall").update(amount_currency="EUR", house_amount=None)

    figures = compute(START, END)

    assert (figures.partner_payouts, figures.payouts_missing_rate) == (Decimal("7.00"), 1)


def test_a_networks_report_of_a_claim_is_not_a_payout(sale):
    network_postback = NetworkPostback.objects.create(
        name="Acme postback", postback_url="https://a/", network=sale["conversion"].network
    )
    sale["send"]("approved", Effect.CREDIT, "10.00", partner=network_postback, kind="created")

    assert compute(START, END).partner_payouts == Decimal("0")


@pytest.fixture
def staff(db):
    return staff_with("partners.view_dashboard")


def test_the_page_shows_the_figures_in_a_bounded_number_of_queries(client, staff, world, django_assert_max_num_queries):
    client.force_login(staff)

    # The figures' 16, the session and user, 5 for the offers whose partners' shares exceed their payout, and 2 for the
    # big tables' sizes (one query for their oldest rows and counts, one for their bytes).
    with django_assert_max_num_queries(29):
        response = client.get(URL, {"start": "2026-03-01", "end": "2026-03-31"})

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'id="stats-gross">5\.30<', html)
    assert re.search(r'id="stats-payouts">4\.21<', html)
    assert re.search(r'id="stats-margin"><strong>1\.09<', html)
    assert "1 approved\n          conversion(s) have no exchange rate yet" in html
    assert "rejected: unknown_click" in html
    assert "answered 410 Gone" in html


def test_the_chart_has_one_bar_per_day_with_conversions(client, staff, world):
    client.force_login(staff)

    html = client.get(URL, {"start": "2026-03-01", "end": "2026-03-31"}).content.decode()

    chart = html.index('class="daily-chart"')
    svg = html[chart : html.index("</svg>", chart)]
    assert re.findall(r'<rect class="bar" data-day="([\d-]+)"', svg) == ["2026-03-02", "2026-03-05", "2026-03-09"]
    assert '<polyline class="gross"' in svg
    assert "gross payout (USD)" in svg
    assert "2026-03-05: 3 conversion(s), 3.30 USD</title>" in svg
    assert "<script" not in html[html.index("content-main") :]


def month_of(conversions_by_day):
    """The 30 days of a period ending 2026-03-30, with the given conversions on the given days of March."""
    return [
        Day(date(2026, 3, n), conversions_by_day.get(n, 0), Decimal(conversions_by_day.get(n, 0))) for n in range(1, 31)
    ]


def test_a_short_history_is_charted_from_its_first_conversion_over_at_least_a_week():
    svg = daily_chart(month_of({29: 2, 30: 1}), "USD")

    # The week to the period's end, not 28 empty days before two slivers of bars.
    assert re.findall(r'<polyline class="gross" points="([^"]*)"', svg)[0].count(",") == MIN_DAYS
    assert re.findall(r'<rect class="bar" data-day="([\d-]+)"', svg) == ["2026-03-29", "2026-03-30"]
    assert ">03-24<" in svg
    assert ">03-23<" not in svg


def test_a_long_history_is_charted_from_its_first_conversion():
    assert [day.day.day for day in charted(month_of({10: 1, 30: 1}))] == list(range(10, 31))
    assert len(charted(month_of({1: 1}))) == 30


def test_the_default_period_is_the_last_30_days(client, staff):
    client.force_login(staff)

    response = client.get(URL)

    today = timezone.localdate()
    assert response.context["stats"].end == today
    assert (today - response.context["stats"].start).days == 29
    assert "n/a" in response.content.decode()


def test_a_period_that_ends_before_it_starts_is_an_error(client, staff):
    client.force_login(staff)

    response = client.get(URL, {"start": "2026-03-02", "end": "2026-03-01"})

    assert response.context["stats"] is None
    assert "The period starts after it ends." in response.content.decode()


def test_the_page_filters_by_the_forms_choices(client, staff, world):
    client.force_login(staff)

    response = client.get(URL, {"start": "2026-03-01", "end": "2026-03-31", "partner": world["wall"].pk})

    assert response.context["stats"].partner_payouts == Decimal("0.50")


@pytest.mark.parametrize(
    ("label", "start", "end"),
    [
        ("Today", "2026-03-18", "2026-03-18"),
        ("7 days", "2026-03-12", "2026-03-18"),
        ("30 days", "2026-02-17", "2026-03-18"),
        ("This month", "2026-03-01", "2026-03-18"),
    ],
)
def test_period_presets_end_today_and_keep_the_filters(client, staff, world, label, start, end, monkeypatch):
    monkeypatch.setattr("partners.dashboard.timezone.localdate", lambda: date(2026, 3, 18))
    client.force_login(staff)

    response = client.get(URL, {"start": "2026-03-01", "end": "2026-03-18", "partner": world["wall"].pk})

    presets = {name: (url, active) for name, url, active in response.context["presets"]}
    assert presets[label] == (f"?start={start}&end={end}&partner={world['wall'].pk}", label == "This month")
    assert f'href="?start={start}&amp;end={end}&amp;partner={world["wall"].pk}"' in response.content.decode()


def test_each_count_links_to_the_admin_list_it_summarises_and_that_list_shows_as_many(admin_client, world):
    response = admin_client.get(URL, {"start": "2026-03-01", "end": "2026-03-31", "network": world["acme"].pk})

    links, figures = response.context["links"], response.context["stats"]
    rows = response.context["rows"]
    counted = [
        (links.clicks(), figures.our_clicks),
        (links.conversions(), figures.conversions["total"]),
        *[(url, n) for _, n, url in rows["conversions"]],
        *[(url, n) for _, n, url in rows["reasons"]],
        (links.postbacks("rejected"), figures.postbacks["rejected"]),
    ]
    for url, n in counted:
        assert f'href="{url.replace("&", "&amp;")}"' in response.content.decode()
        assert admin_client.get(url).context["cl"].result_count == n, url


def test_a_count_whose_list_cannot_show_the_same_rows_has_no_link(admin_client, world):
    response = admin_client.get(URL, {"start": "2026-03-01", "end": "2026-03-31", "partner": world["pub"].pk})

    links, figures = response.context["links"], response.context["stats"]
    assert links.conversions() is None  # the conversions delivered to a partner are no filter of the list
    # The delivery list is the partner's, test deliveries included (the figures leave them out).
    tests = Delivery.objects.filter(destination=world["pub"], event__conversion__is_test=True).count()
    assert admin_client.get(links.deliveries()).context["cl"].result_count == figures.deliveries["total"] + tests


def test_anonymous_visitors_are_sent_to_the_admin_login(client, db):
    response = client.get(URL)

    assert response.status_code == 302
    assert response.url == "/admin/login/?next=/admin/stats/"


def test_users_who_are_not_staff_are_sent_to_the_login(client, db):
    client.force_login(User.objects.create_user("user", password="pw"))

    response = client.get(URL)

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_the_admin_index_links_the_dashboard(client, staff):
    client.force_login(staff)

    assert 'href="/admin/stats/"' in client.get("/admin/").content.decode()


def test_payouts_and_margin_add_up_to_the_gross_as_shown(client, staff, sale):
    Conversion.objects.filter(pk=sale["conversion"].pk).update(house_payout=Decimal("1.004"))
    # Two shares of half a cent: summed before rounding they show as a cent, not as nothing.
    sale["send"]("approved", Effect.CREDIT, "0.0025", kind="created")
    sale["send"](
        "approved", Effect.CREDIT, "0.0025", partner=Partner.objects.create(name="W", postback_url="https://w/")
    )
    client.force_login(staff)

    html = client.get(URL, {"start": "2026-03-01", "end": "2026-03-31"}).content.decode()

    # Exact: 1.004 - 0.005 = 0.999, which alone would round to 1.00; shown, 1.00 - 0.01 = 0.99.
    assert re.search(r'id="stats-gross">1\.00<', html)
    assert re.search(r'id="stats-payouts">0\.01<', html)
    assert re.search(r'id="stats-margin"><strong>0\.99<', html)


@override_settings(HOUSE_CURRENCY="JPY")
def test_money_is_shown_to_the_house_currencys_minor_unit(sale):
    Conversion.objects.filter(pk=sale["conversion"].pk).update(house_payout=Decimal("1500.50"))
    sale["send"]("approved", Effect.CREDIT, "700.40", kind="created")

    shown = compute(START, END).shown

    assert (shown.gross, shown.partner_payouts, shown.margin) == (Decimal("1501"), Decimal("700"), Decimal("801"))
