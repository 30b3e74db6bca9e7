"""The deliveries pages: the partner's own deliveries, filtered and paged by id, and one delivery's attempts."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners.portal import views


def deliveries_path(partner):
    return f"/portal/partners/{partner.pk}/deliveries/"


def listed(response):
    assert response.status_code == 200
    return [d.pk for d in response.context["deliveries"]]


def test_they_are_listed_newest_first(portal_client, partner, make_delivery):
    first, second = make_delivery(partner, "a"), make_delivery(partner, "b")

    assert listed(portal_client.get(deliveries_path(partner))) == [second.pk, first.pk]


def test_they_filter_by_state_click_transaction_and_date(portal_client, partner, make_delivery):
    old = make_delivery(partner, "old", created_at=timezone.now() - timedelta(days=10))
    failed = make_delivery(partner, "c-failed", transaction_id="tx-f", state="failed")
    ok = make_delivery(partner, "c-ok", transaction_id="tx-ok", state="succeeded")
    path = deliveries_path(partner)
    today = timezone.now().date()

    assert listed(portal_client.get(path, {"state": "failed"})) == [failed.pk]
    assert listed(portal_client.get(path, {"click_id": "c-ok"})) == [ok.pk]
    assert listed(portal_client.get(path, {"transaction_id": "tx-f"})) == [failed.pk]
    assert listed(portal_client.get(path, {"date_from": today.isoformat()})) == [ok.pk, failed.pk]
    assert listed(portal_client.get(path, {"date_to": (today - timedelta(days=5)).isoformat()})) == [old.pk]


def test_pages_go_by_id_without_counting(portal_client, partner, make_delivery, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    made = [make_delivery(partner, f"c{n}").pk for n in range(5)]
    path = deliveries_path(partner)

    with CaptureQueriesContext(connection) as queries:
        first = portal_client.get(path)
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert listed(first) == made[:-3:-1]
    assert first.context["newer"] is None
    second = portal_client.get(path + first.context["older"])
    assert listed(second) == [made[2], made[1]]
    back = portal_client.get(path + second.context["newer"])
    assert listed(back) == made[:-3:-1]
    last = portal_client.get(path + second.context["older"])
    assert listed(last) == [made[0]]
    assert last.context["older"] is None


def test_the_filters_are_kept_across_pages(portal_client, partner, make_delivery, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    failed = [make_delivery(partner, f"f{n}", state="failed").pk for n in range(2)]
    make_delivery(partner, "ok", state="succeeded")
    path = deliveries_path(partner)

    first = portal_client.get(path, {"state": "failed"})
    assert "state=failed" in first.context["older"]
    assert listed(portal_client.get(path + first.context["older"])) == [failed[0]]


def test_a_delivery_shows_its_attempts_and_the_status_history(portal_client, partner, attempted):
    page = portal_client.get(f"{deliveries_path(partner)}{attempted.pk}/").content.decode()

    assert "GET https://pub.example/pb?click=clk-9" in page
    assert "x-api-key: abcd…" in page
    assert "HTTP 500" in page
    assert "oops" in page
    assert "42 ms" in page
    assert "- → approved" in page
