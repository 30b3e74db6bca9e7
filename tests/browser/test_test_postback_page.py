"""The test-postback page in Debian's Chromium, against the live server and a real Celery worker.

Row 2 is scheduled a minute out, as an admin schedules it; once the page shows it counting down, the test moves the
row's time to now and queues its send, as the sweep does for a row whose task was lost, instead of waiting the minute.
The copy queued with the minute's countdown then finds the row sent and does nothing (services.send claims a row once).
"""

import re
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from partners.models import Partner
from testing_tools.models import TestPostback, TestState
from testing_tools.tasks import send_test_postback

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = settings.BASE_DIR / "docs" / "test-postback.png"
TEMPLATE = "/pb?user={username}&offer={offer_name}&points={points}&event={event}"


def make_partner(name, url):
    partner = Partner(name=name, postback_url=url)
    partner.full_clean()
    partner.save()
    return partner


def due_now(partner_name):
    """The partner's scheduled row due now and its send queued. In a thread of its own: Playwright's sync API runs an
    event loop in this one, where Django refuses the ORM."""

    def move():
        test = TestPostback.objects.get(partner__name=partner_name, state=TestState.SCHEDULED)
        TestPostback.objects.filter(pk=test.pk).update(scheduled_for=timezone.now())
        send_test_postback.delay(test.pk)

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(move).result()


def save_screenshot(page):
    """Keep the README's picture current; a read-only checkout is not a test failure."""
    png = page.screenshot(full_page=True)
    try:
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(png)
    except OSError as error:
        warnings.warn(f"could not save {SCREENSHOT}: {error}", stacklevel=2)


def test_two_rows_turn_green_then_red_in_the_live_log_without_a_reload(
    live_server, chromium, worker, partner_ok, partner_broken, django_user_model
):
    django_user_model.objects.create_superuser("admin", "admin@example.com", "browser-test-pw")
    make_partner("Partner A", partner_ok.url(TEMPLATE))
    make_partner("Partner B", partner_broken.url(TEMPLATE))
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900}, timezone_id="America/New_York")
        page.set_default_timeout(15_000)

        # Log in through the admin's own login page, which sends us on to the tool.
        page.goto(f"{live_server.url}/admin/login/?next=/admin/test-postback/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "browser-test-pw")
        page.click("#login-form [type=submit]")
        expect(page).to_have_url(re.compile(r"/admin/test-postback/$"))
        expect(page.locator("#content h1")).to_have_text("Test postback")

        # Row 1: partner A now; row 2: partner B a minute after row 1.
        inputs = page.locator("#tp-rows tbody tr.tp-input-row")
        expect(inputs).to_have_count(1)
        first = inputs.nth(0)
        first.locator("[name=partner_id]").select_option(label="Partner A")
        first.locator("[name=username]").fill("alice")
        first.locator("[name=offer_name]").fill("Daily Survey")
        first.locator("[name=points]").fill("50")
        first.locator("[name=delay_minutes]").fill("0")
        page.click("#tp-add")
        expect(inputs).to_have_count(2)
        second = inputs.nth(1)
        expect(second.locator(".tp-number")).to_have_text("2")
        second.locator("[name=partner_id]").select_option(label="Partner B")
        second.locator("[name=username]").fill("bob")
        second.locator("[name=delay_minutes]").fill("1")

        page.evaluate("window.__marker = 1")
        page.click("#tp-send")

        log = page.locator("#tp-log tbody tr.tp-row")
        expect(log).to_have_count(2)
        row1, row2 = log.nth(0), log.nth(1)
        expect(row1.locator("td").nth(1)).to_have_text("Partner A")
        expect(row2.locator("td").nth(1)).to_have_text("Partner B")

        # Row 1 turns green while row 2 still counts down its minute.
        expect(row1.locator(".tp-state")).to_have_text("succeeded", timeout=30_000)
        expect(row1.locator(".tp-state")).to_have_class(re.compile(r"\btp-succeeded\b"))
        expect(row1.locator("td").nth(5)).to_have_text("200")
        # The admin's one time format, in the server's zone (UTC), whatever the browser's.
        expect(row1.locator(".tp-when")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
        expect(row2.locator(".tp-state")).to_have_text("scheduled")
        expect(row2.locator(".tp-when")).to_have_text(re.compile(r"^in \d+ s$"))
        expect(page.locator("#tp-cancel")).to_be_visible()

        # Row 2 turns red with the partner's 500 when its time comes; then polling stops.
        due_now("Partner B")
        expect(row2.locator(".tp-state")).to_have_text("failed", timeout=30_000)
        expect(row2.locator(".tp-state")).to_have_class(re.compile(r"\btp-failed\b"))
        expect(row2.locator("td").nth(5)).to_have_text("500")
        expect(page.locator("#tp-status")).to_have_text("All rows are final.")
        expect(page.locator("#tp-cancel")).to_be_hidden()

        # The response body opens on click.
        row2.click()
        expect(page.locator("#tp-log tr.tp-body")).to_contain_text("internal error: partner B is down")

        assert page.evaluate("window.__marker") == 1, "the page reloaded"
        assert re.search(r"[?&]batch=[0-9a-f-]{36}$", page.url), page.url
        save_screenshot(page)

    assert [test.state for test in TestPostback.objects.order_by("position")] == [TestState.SUCCEEDED, TestState.FAILED]
    assert partner_ok.paths == ["/pb?user=alice&offer=Daily%20Survey&points=50&event=test"]
    assert partner_broken.paths == ["/pb?user=bob&offer=Test%20offer&points=0&event=test"]


def test_errors_show_on_their_row_a_double_click_sends_once_and_an_unknown_batch_stops_polling(
    live_server, chromium, broker, partner_ok, django_user_model
):
    """No worker: the one batch this schedules waits in the test's own broker queue."""
    django_user_model.objects.create_superuser("admin", "admin@example.com", "browser-test-pw")
    make_partner("Partner A", partner_ok.url(TEMPLATE))
    with chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(15_000)
        sends = []
        page.on("request", lambda request: sends.append(request.url) if request.url.endswith("/send") else None)
        page.goto(f"{live_server.url}/admin/login/?next=/admin/test-postback/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "browser-test-pw")
        page.click("#login-form [type=submit]")
        expect(page).to_have_url(re.compile(r"/admin/test-postback/$"))

        # Each error lands on the row and field it belongs to.
        inputs = page.locator("#tp-rows tbody tr.tp-input-row")
        page.click("#tp-add")
        inputs.nth(0).locator("[name=points]").fill("-1")
        inputs.nth(1).locator("[name=username]").fill("")
        page.click("#tp-send")
        expect(inputs.nth(0).locator(".tp-field-error")).to_have_text([re.compile("greater than or equal to 0")])
        expect(inputs.nth(1).locator(".tp-field-error")).to_have_text(["This field may not be blank."])
        expect(page.locator("#tp-log tbody tr")).to_have_count(0)

        # Fixed, and Send clicked twice before the first answer: one batch, not two. (Clicked from script, since the
        # first click clears the error notes, which moves the button away from a second mouse click.)
        inputs.nth(0).locator("[name=points]").fill("5")
        inputs.nth(1).locator(".tp-remove").click()
        sends.clear()
        page.evaluate("() => { const send = document.getElementById('tp-send'); send.click(); send.click(); }")
        expect(page.locator("#tp-log tbody tr.tp-row")).to_have_count(1)
        expect(page.locator(".tp-field-error")).to_have_count(0)
        assert len(sends) == 1, sends

        # A batch that does not exist says so and stops asking.
        page.goto(f"{live_server.url}/admin/test-postback/?batch=00000000-0000-0000-0000-000000000001")
        expect(page.locator("#tp-status")).to_have_text("Log unavailable: no such batch")

    assert TestPostback.objects.count() == 1
