"""A partner's delivery tools: resend a final delivery, a CSV of a period, the breaker's state and parked count."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

from django.test import Client
from django.utils import timezone

from partners.models import Breaker, DestinationHealth


def delivery_path(partner, delivery, *rest):
    return "/".join([f"/portal/partners/{partner.pk}/deliveries/{delivery.pk}", *rest]) + "/"


def csv_rows(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_a_failed_delivery_is_sent_again(portal_client, partner, make_delivery, django_capture_on_commit_callbacks):
    failed = make_delivery(partner, state="failed", reason="schedule used up", finished_at=timezone.now())
    assert "Send it again" in portal_client.get(delivery_path(partner, failed)).content.decode()

    with django_capture_on_commit_callbacks() as callbacks:
        response = portal_client.post(delivery_path(partner, failed, "resend"), follow=True)

    failed.refresh_from_db()
    assert failed.state == "pending"
    assert failed.finished_at is None
    assert callbacks  # the drainer is woken after the commit
    assert "Queued" in response.content.decode()


def test_a_succeeded_delivery_is_never_sent_twice(portal_client, partner, make_delivery):
    done = make_delivery(partner, state="succeeded")
    assert "Send it again" not in portal_client.get(delivery_path(partner, done)).content.decode()

    response = portal_client.post(delivery_path(partner, done, "resend"), follow=True)

    done.refresh_from_db()
    assert done.state == "succeeded"
    assert "Only a failed or cancelled delivery" in response.content.decode()


def test_a_switched_off_partner_gets_nothing_resent(portal_client, partner, make_delivery):
    partner.is_active = False
    partner.save()
    failed = make_delivery(partner, state="failed")

    portal_client.post(delivery_path(partner, failed, "resend"))

    failed.refresh_from_db()
    assert failed.state == "failed"


def test_a_resend_needs_post_and_the_csrf_token(partner_user, partner, make_delivery):
    failed = make_delivery(partner, state="failed")
    client = Client(enforce_csrf_checks=True)
    client.force_login(partner_user)

    assert client.get(delivery_path(partner, failed, "resend")).status_code == 405
    assert client.post(delivery_path(partner, failed, "resend")).status_code == 403
    failed.refresh_from_db()
    assert failed.state == "failed"


def test_another_partners_delivery_cannot_be_resent(portal_client, partner, other_partner, make_delivery):
    theirs = make_delivery(other_partner, state="failed")

    assert portal_client.post(delivery_path(other_partner, theirs, "resend")).status_code == 404
    assert portal_client.post(delivery_path(partner, theirs, "resend")).status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == "failed"


def test_the_csv_has_the_period_asked_for_oldest_first(portal_client, partner, other_partner, make_delivery):
    make_delivery(partner, "before", created_at=timezone.now() - timedelta(days=10))
    first = make_delivery(partner, "c-1", transaction_id="t-1", state="succeeded", amount=Decimal("1.50"))
    first.amount_currency = "USD"
    first.save()
    second = make_delivery(partner, "c-2", state="failed", last_status_code=500)
    make_delivery(other_partner, "theirs")
    today = timezone.now().date().isoformat()

    rows = csv_rows(portal_client.get(f"/portal/partners/{partner.pk}/deliveries/csv/", {"date_from": today}))

    assert [row["delivery_id"] for row in rows] == [str(first.pk), str(second.pk)]
    assert rows[0]["click_id"] == "c-1"
    assert rows[0]["transaction_id"] == "t-1"
    assert (rows[0]["payout"], rows[0]["currency"], rows[0]["state"]) == ("1.5", "USD", "succeeded")
    assert rows[1]["last_status_code"] == "500"


def test_the_csv_keeps_the_lists_filters(portal_client, partner, make_delivery):
    make_delivery(partner, "ok", state="succeeded")
    failed = make_delivery(partner, "bad", state="failed")

    rows = csv_rows(portal_client.get(f"/portal/partners/{partner.pk}/deliveries/csv/", {"state": "failed"}))

    assert [row["delivery_id"] for row in rows] == [str(failed.pk)]


def test_another_partners_csv_is_404(portal_client, other_partner):
    assert portal_client.get(f"/portal/partners/{other_partner.pk}/deliveries/csv/").status_code == 404


def test_the_list_shows_an_open_breaker_and_the_parked_count(portal_client, partner, make_delivery):
    make_delivery(partner, "p1", state="parked")
    make_delivery(partner, "p2", state="parked")
    probe = timezone.now() + timedelta(minutes=5)
    DestinationHealth.objects.create(destination=partner, breaker=Breaker.OPEN, consecutive_failures=7, probe_at=probe)

    page = portal_client.get(f"/portal/partners/{partner.pk}/deliveries/").content.decode()

    assert "after 7 failures in a row" in page
    assert "open (paused" in page
    assert "2 deliveries are parked" in page


def test_a_healthy_partner_reads_closed(portal_client, partner):
    page = portal_client.get(f"/portal/partners/{partner.pk}/deliveries/").content.decode()

    assert "closed: we are sending" in page
    assert "deliveries are parked" not in page
