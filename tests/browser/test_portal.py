"""The partner portal in Debian's Chromium, against the live server and a real Celery worker: an invited partner
user sets a password, logs in, fixes their URL, tests it against a local sink, rotates the signing secret (both
signatures verified by the standardwebhooks library), and cannot open another partner's delivery.

It also takes the partner guide's screenshots of the portal, at 1366 px and 390 px wide.
"""

import re
import warnings
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from partners.models import Delivery, DeliveryAttempt, Partner
from receiver.models import Conversion, ConversionEvent, Network

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS = settings.BASE_DIR / "docs"
OLD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PASSWORD = "a long browser password 9"
EMAIL = "ann@pub.example"
WIDTHS = {"wide": 1366, "narrow": 390}


def save_screenshot(page, name):
    """Keep the partner guide's pictures current; a read-only checkout is not a test failure."""
    path = DOCS / f"portal-{name}.png"
    try:
        path.write_bytes(page.screenshot(full_page=True))
    except OSError as error:
        warnings.warn(f"could not save {path}: {error}", stacklevel=2)


def make_delivery(partner, network, click_id, state, status_code, minutes_ago):
    conversion = Conversion.objects.create(
        network=network, click_id=click_id, dedupe_id=f"tx-{click_id}", transaction_id=f"tx-{click_id}"
    )
    created = timezone.now() - timedelta(minutes=minutes_ago)
    # Routed already, as its delivery is made here: the live worker's router must not make its own beside it.
    event = ConversionEvent.objects.create(
        conversion=conversion, kind="created", to_status="approved", routed_at=created
    )
    delivery = Delivery.objects.create(
        event=event,
        destination=partner,
        state=state,
        attempts=1,
        effect="credit",
        amount=Decimal("1.75"),
        amount_currency="USD",
        points=175,
        last_status_code=status_code,
        created_at=created,
    )
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=1,
        url=f"https://pub.example/pb?click={click_id}",
        method="GET",
        request_headers={"user-agent": "postback-hub/1.0", "webhook-signature": "v1,…"},
        response_status=status_code,
        response_body="ok" if status_code == 200 else "server error",
        duration_ms=38,
        error="" if status_code == 200 else f"HTTP {status_code}",
        created_at=created,
    )
    return delivery


def verifies(secret, request):
    try:
        Webhook(secret).verify(request.body, request.headers, json_parse=False)
    except WebhookVerificationError:
        return False
    return True


def test_a_partner_user_sets_up_tests_and_rotates_in_the_portal(live_server, chromium, worker, partner_ok):
    network = Network.objects.create(name="Acme Network")
    partner = Partner.objects.create(
        name="Pub", slug="pub", postback_url="https://pub.example/pb?click={click_id}", signing_secret=OLD_SECRET
    )
    rival = Partner.objects.create(name="Rival", slug="rival", postback_url="https://rival.example/pb?c={click_id}")
    for n, (state, code) in enumerate([("succeeded", 200), ("failed", 500), ("succeeded", 200)]):
        mine = make_delivery(partner, network, f"clk-{n}", state, code, minutes_ago=30 - n)
    theirs = make_delivery(rival, network, "theirs", "succeeded", 200, minutes_ago=5)
    call_command("invite_partner_user", "pub", EMAIL)
    (invitation,) = mail.outbox
    link = re.search(r"/portal/set-password/\S+/", invitation.body).group(0)
    base = f"{live_server.url}/portal/partners/{partner.pk}"
    good = partner_ok.url("/pb?click={click_id}&status={status}&payout={payout}&user={username}")

    with chromium() as browser:
        page = browser.new_page(viewport={"width": WIDTHS["wide"], "height": 900})
        page.set_default_timeout(20_000)

        # The invitation's link: choose a password, then log in with it.
        page.goto(live_server.url + link)
        page.fill("#id_new_password1", PASSWORD)
        page.fill("#id_new_password2", PASSWORD)
        page.click("main form [type=submit]")
        page.goto(f"{live_server.url}/portal/login/")
        page.fill("#id_username", EMAIL)
        page.fill("#id_password", PASSWORD)
        page.click("main form [type=submit]")
        expect(page).to_have_url(re.compile(r"/portal/$"))

        # An unknown macro is refused; a good URL is saved.
        page.goto(f"{base}/settings/")
        page.fill("#id_postback_url", partner_ok.url("/pb?c={clickid}"))
        page.click("button[value=save]")
        expect(page.locator(".errorlist")).to_contain_text("unknown macro {clickid}")
        page.fill("#id_postback_url", good)
        page.click("button[value=save]")
        expect(page.locator(".messages")).to_contain_text("Saved: postback_url")
        expect(page.locator("#id_postback_url")).to_have_value(good)
        page.click("button[value=preview]")
        expect(page.locator("main")).to_contain_text("status=approved")
        for name, width in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": 900})
            save_screenshot(page, f"settings-{name}")
        page.set_viewport_size({"width": WIDTHS["wide"], "height": 900})

        # A test postback with chosen values reaches the sink, and the page shows its answer as it comes.
        page.goto(f"{base}/test/")
        page.select_option("#id_status", "pending")
        page.fill("#id_payout", "3.25")
        page.fill("#id_username", "zoe")
        page.fill("#id_offer_name", "Quiz")
        page.click("main form [type=submit]")
        expect(page.locator("[data-field=state]")).to_have_text("succeeded")
        expect(page.locator("[data-field=answer]")).to_have_text("HTTP 200")
        expect(page.locator("[data-field=response_body]")).to_have_text("ok, test received")
        save_screenshot(page, "test-postback-wide")
        (first,) = partner_ok.received
        assert "status=pending&payout=3.25&user=zoe" in first.path
        assert verifies(OLD_SECRET, first)

        # Rotation: confirmed, the new secret shown once; the next request carries both signatures.
        page.goto(f"{base}/secret/")
        page.check("input[name=confirm]")
        page.click("main form [type=submit]")
        new_secret = page.locator("#new-secret").inner_text().strip()
        assert new_secret.startswith("whsec_")
        assert new_secret != OLD_SECRET
        page.goto(f"{base}/secret/")
        assert new_secret not in page.content()
        page.goto(f"{base}/test/")
        page.click("main form [type=submit]")
        expect(page.locator("[data-field=state]")).to_have_text("succeeded")
        second = partner_ok.received[1]
        assert second.headers["webhook-signature"].count("v1,") == 2
        assert verifies(new_secret, second)
        assert verifies(OLD_SECRET, second)

        # The deliveries, one delivery's story, and the stats, for the guide.
        page.goto(f"{base}/deliveries/")
        expect(page.locator("main table").first).to_contain_text("clk-1")
        save_screenshot(page, "deliveries-wide")
        page.goto(f"{base}/deliveries/{mine.pk}/")
        page.set_viewport_size({"width": WIDTHS["narrow"], "height": 900})
        save_screenshot(page, "delivery-narrow")
        page.set_viewport_size({"width": WIDTHS["wide"], "height": 900})
        page.goto(f"{base}/stats/")
        expect(page.locator("main")).to_contain_text("conversions delivered")
        save_screenshot(page, "stats-wide")

        # Another partner's delivery is a 404, under its own partner's id and under ours.
        for path in (
            f"/portal/partners/{rival.pk}/deliveries/{theirs.pk}/",
            f"/portal/partners/{partner.pk}/deliveries/{theirs.pk}/",
        ):
            assert page.goto(live_server.url + path).status == 404
