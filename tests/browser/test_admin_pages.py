"""Every admin page an admin lives in, in Debian's Chromium at 1366 px and at 390 px: screenshots for the README,
nothing wider than a phone where the page is a tool, and the key columns of the big lists on a laptop's screen."""

import re
import uuid
import warnings

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from partners import outbox
from partners.models import Delivery, Partner
from receiver.models import Click, Conversion, Network, Offer
from testing_tools.models import TestPostback, TestState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = settings.BASE_DIR / "docs" / "screenshots"
WIDTHS = {"desktop": (1366, 800), "phone": (390, 844)}
SIGNATURE = "v1,c2lnbmF0dXJlLW9mLXRoZS10ZXN0"
BODY = '{"user": "alice", "points": 50}'


@pytest.fixture
def hub(django_user_model, broker):
    """A superuser and a little of everything, made outside the browser (Playwright's loop refuses the ORM)."""
    django_user_model.objects.create_superuser("admin", "admin@example.com", "browser-test-pw")
    network = Network.objects.create(name="Acme Network")
    offer = Offer.objects.create(network=network, name="Daily Survey", url="https://acme.example/o?c={click_id}")
    click = Click.objects.create(offer=offer, user_id="alice")
    partner = Partner.objects.create(
        name="Offerwall",
        slug="wall",
        method="POST",
        body_template='{"user": "{user_id}", "points": {points}}',
        body_type="json",
        postback_url="https://wall.example/pb",
    )
    Client().get(f"/postback/{network.key}/", {"click_id": click.click_id, "transaction_id": "t-1", "payout": "2"})
    outbox.route()  # what the worker does after the commit; no worker runs here
    batch = uuid.uuid4()
    TestPostback.objects.create(
        batch=batch,
        position=1,
        partner=partner,
        username="alice",
        offer_name="Daily Survey",
        points=50,
        scheduled_for=timezone.now(),
        sent_at=timezone.now(),
        state=TestState.SUCCEEDED,
        url="https://wall.example/pb",
        method="POST",
        request_headers={"Content-Type": "application/json", "webhook-signature": SIGNATURE},
        request_body=BODY,
        response_status=200,
        response_body="ok",
    )
    return {
        "network": network,
        "partner": partner,
        "conversion": Conversion.objects.get(),
        "delivery": Delivery.objects.get(),
        "batch": batch,
    }


def pages(hub):
    """(name, path): every page the control panel's issue names."""
    return [
        ("home", "/"),
        ("admin-index", "/admin/"),
        ("partners", "/admin/partners/partner/"),
        ("partner", f"/admin/partners/partner/{hub['partner'].pk}/change/"),
        ("partner-add", "/admin/partners/partner/add/"),
        ("networks", "/admin/receiver/network/"),
        ("network-add", "/admin/receiver/network/add/"),
        ("network", f"/admin/receiver/network/{hub['network'].pk}/change/"),
        ("offer-add", "/admin/receiver/offer/add/"),
        ("received-postbacks", "/admin/receiver/receivedpostback/"),
        ("conversions", "/admin/receiver/conversion/"),
        ("conversion-trace", f"/admin/receiver/conversion/{hub['conversion'].pk}/change/"),
        ("deliveries", "/admin/partners/delivery/"),
        ("delivery", f"/admin/partners/delivery/{hub['delivery'].pk}/change/"),
        ("test-postback", f"/admin/test-postback/?batch={hub['batch']}"),
        ("dashboard", "/admin/stats/"),
        ("api-docs", "/api/docs/"),
    ]


def log_in(page, live_server):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "browser-test-pw")
    page.click("#login-form [type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/$"))


def overflow(page):
    """How many pixels the page is wider than the window (0: nothing to scroll sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def save(page, name):
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        # JPEG: a whole page at a tenth of a PNG's size, still sharp enough to read.
        (SHOTS / f"{name}.jpg").write_bytes(page.screenshot(full_page=True, type="jpeg", quality=70))
    except OSError as error:
        warnings.warn(f"could not save the screenshot {name}: {error}", stacklevel=2)


def test_every_page_renders_at_1366_and_390_px_and_the_tools_fit_a_phone(live_server, chromium, hub):
    with chromium() as browser:
        for size, (width, height) in WIDTHS.items():
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(15_000)
            log_in(page, live_server)
            for name, path in pages(hub):
                response = page.goto(live_server.url + path)
                assert response.status == 200, (name, response.status)
                page.wait_for_load_state("networkidle")
                save(page, f"{name}-{width}")
                if size == "phone" and name in ("test-postback", "dashboard"):
                    assert overflow(page) <= 0, f"{name} is {overflow(page)} px wider than a 390 px phone"
            page.close()


@pytest.mark.parametrize(
    ("path", "columns"),
    [
        ("/admin/partners/delivery/", ["state_badge", "attempts", "code", "last_error_short", "next_attempt"]),
        ("/admin/receiver/receivedpostback/", ["received_at", "outcome_badge", "reason", "code", "click"]),
    ],
)
def test_the_key_columns_of_the_big_lists_are_on_a_1366_px_screen(live_server, chromium, hub, path, columns):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 800})
        page.set_default_timeout(15_000)
        log_in(page, live_server)
        page.goto(live_server.url + path)

        for column in columns:
            header = page.locator(f"#result_list th.column-{column}")
            expect(header).to_be_visible()
            box = header.bounding_box()
            assert box["x"] >= 0, column
            assert box["x"] + box["width"] <= 1366, f"{column} ends at {box['x'] + box['width']} px"


@pytest.mark.parametrize(
    ("path", "column", "label"),
    [
        ("/admin/partners/delivery/", "state_badge", "State"),
        ("/admin/receiver/receivedpostback/", "outcome_badge", "Outcome"),
    ],
)
def test_on_a_phone_a_big_lists_rows_are_cards_with_every_value_named_and_nothing_to_scroll(
    live_server, chromium, hub, path, column, label
):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.set_default_timeout(15_000)
        log_in(page, live_server)
        page.goto(live_server.url + path)

        cell = page.locator(f"#result_list tbody td.field-{column}").first
        expect(cell).to_be_visible()
        assert cell.get_attribute("data-label").lower() == label.lower()
        box = cell.bounding_box()
        assert box["x"] >= 0, f"the {label} cell spans {box}"
        assert box["x"] + box["width"] <= 390, f"the {label} cell spans {box}"
        hidden = page.evaluate(
            "(() => { const r = document.querySelector('#changelist .results'); "
            "return r.scrollWidth - r.clientWidth; })()"
        )
        assert hidden <= 0, f"the list hides {hidden} px in a sideways scroll"
        assert overflow(page) <= 0


def test_the_tools_box_keeps_its_names_whole_and_fits_a_phone(live_server, chromium, hub):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        log_in(page, live_server)

        for name in ("Test postback", "Stats"):
            link = page.locator("#tools-module th a", has_text=name)
            box = link.bounding_box()
            line = float(link.evaluate("a => parseFloat(getComputedStyle(a).lineHeight) || 20"))
            assert box["height"] < 2 * line, f"{name} wraps onto {box['height']} px"
        # The descriptions wrap beside the names: Django's dashboard.css keeps every cell of an index box on one
        # line (for its Add and Change links), which once made the index 862 px wide on a phone.
        box = page.locator("#tools-module table").bounding_box()
        assert box["x"] + box["width"] <= 390, f"the Tools box ends at {box['x'] + box['width']} px"
        assert overflow(page) <= 0, f"the admin index is {overflow(page)} px wider than a 390 px phone"


def test_on_a_phone_the_test_tool_explains_the_last_row_shows_the_request_and_confirms_cancel(
    live_server, chromium, hub
):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.set_default_timeout(15_000)
        log_in(page, live_server)
        page.goto(f"{live_server.url}/admin/test-postback/?batch={hub['batch']}")

        # Every field and button of the row is on screen.
        row = page.locator("#tp-rows tr.tp-input-row").first
        for field in ("[name=points]", "[name=status]", "[name=delay_minutes]", ".tp-copy", ".tp-remove"):
            box = row.locator(field).bounding_box()
            assert box["x"] >= 0, field
            assert box["x"] + box["width"] <= 390, field

        # The last row stays, and the page says why.
        row.locator(".tp-remove").click()
        expect(page.locator("#tp-rows tr.tp-input-row")).to_have_count(1)
        expect(page.locator("#tp-form-error")).to_contain_text("at least one row")

        # The log is a card per row: each field named, the state and the time with its zone each on one line.
        logged = page.locator("#tp-log tr.tp-row").first
        expect(logged.locator("td").nth(1)).to_have_attribute("data-label", "Partner")
        assert logged.locator(".tp-state").bounding_box()["height"] < 30
        when = logged.locator(".tp-when")
        expect(when).to_have_text(re.compile(r"UTC$"))
        line = float(when.evaluate("td => parseFloat(getComputedStyle(td).lineHeight) || 20"))
        label = float(when.evaluate("td => parseFloat(getComputedStyle(td, '::before').lineHeight) || 20"))
        assert when.bounding_box()["height"] < label + 1.5 * line, f"the time wraps: {when.bounding_box()}"
        assert when.bounding_box()["x"] + when.bounding_box()["width"] <= 390

        # The POST partner's request: its body and its signature header, under the row.
        page.locator("#tp-log tr.tp-row").first.click()
        opened = page.locator("#tp-log tr.tp-body")
        expect(opened).to_contain_text(BODY)
        expect(opened).to_contain_text(f"webhook-signature: {SIGNATURE}")
        assert overflow(page) <= 0

    # Cancel asks first: a refused question sends nothing.
    TestPostback.objects.filter(batch=hub["batch"]).update(state=TestState.SCHEDULED, scheduled_for=timezone.now())
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.set_default_timeout(15_000)
        log_in(page, live_server)
        page.goto(f"{live_server.url}/admin/test-postback/?batch={hub['batch']}")
        questions = []
        page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
        cancels = []
        page.on("request", lambda request: cancels.append(request.url) if request.url.endswith("/cancel") else None)
        page.locator("#tp-cancel").click()

        expect(page.locator("#tp-cancel")).to_be_visible()
        assert questions == ["Cancel the 1 row(s) not yet sent? They will not be sent."]
        assert cancels == []
