"""A new network from a preset in Debian's Chromium: pick it, see the form filled in, paste the secret, save, and
check a signed sample in the verify box without leaving the page."""

import hashlib
import json
import re
import warnings
from urllib.parse import urlencode

import pytest
from django.conf import settings
from playwright.sync_api import expect

from receiver.models import Network

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = settings.BASE_DIR / "docs" / "network-preset.png"
SECRET = "cpx-given-secret-0123"


def save_screenshot(page):
    """Keep the integration guide's picture current; a read-only checkout is not a test failure."""
    # The preset's box and the fields it filled in; the rest of the form is the usual admin.
    page.set_viewport_size({"width": 1400, "height": 1150})
    png = page.screenshot()
    try:
        SCREENSHOT.write_bytes(png)
    except OSError as error:
        warnings.warn(f"could not save {SCREENSHOT}: {error}", stacklevel=2)


def test_a_network_made_from_the_cpx_research_preset_accepts_its_signed_sample(
    live_server, chromium, django_user_model
):
    django_user_model.objects.create_superuser("admin", "admin@example.com", "browser-test-pw")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/login/?next=/admin/receiver/network/add/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "browser-test-pw")
        page.click("#login-form [type=submit]")
        expect(page).to_have_url(re.compile(r"/admin/receiver/network/add/$"))

        # Picking the preset reloads the page with the form filled in, and says where the facts come from.
        page.select_option("#preset-choice", "cpx-research")
        expect(page).to_have_url(re.compile(r"\?preset=cpx-research$"))
        expect(page.locator("#id_name")).to_have_value("CPX Research")
        expect(page.locator("#preset-chosen .preset-source")).to_contain_text("third-party")
        assert json.loads(page.input_value("#id_signature"))["template"] == "{trans_id}-{secret}"
        assert json.loads(page.input_value("#id_param_mapping"))["click_id"] == "trans_id"
        expect(page.locator("#id_hmac_secret")).to_have_value("")
        page.fill("#id_hmac_secret", SECRET)
        save_screenshot(page)

        page.click("#network_form [name=_save]")
        # Saved, it opens on its own page: the URL to paste into CPX's panel, in CPX's names, and a copy button.
        expect(page).to_have_url(re.compile(r"/admin/receiver/network/\d+/change/$"))
        expect(page.locator(".messagelist")).to_contain_text("was added successfully")
        expect(page.locator("#panel-url")).to_contain_text("/?trans_id={trans_id}&")
        expect(page.locator("#panel-url")).to_contain_text("&amount_usd={amount_usd}&")
        expect(page.locator("#panel-url")).to_contain_text("&hash={secure_hash}")
        # Copy puts the whole URL on the clipboard, as shown.
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.click("[data-copy=panel-url]")
        expect(page.locator("[data-copy=panel-url]")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == page.locator("#panel-url").inner_text()

        # The verify box on its page answers in place.
        expect(page.locator("#verify-sample-form")).to_be_visible()
        page.evaluate("window.__marker = 1")
        key = page.locator(".field-key .readonly").inner_text().strip()
        query = {"trans_id": "cpx-1", "user_id": "u1", "amount_usd": "0.50", "status": "1"}
        signature = hashlib.md5(f"cpx-1-{SECRET}".encode()).hexdigest()
        page.fill("#id_url", f"https://hub.example/postback/{key}/?{urlencode({**query, 'hash': signature})}")
        page.click("#verify-sample-form [type=submit]")
        expect(page.locator(".verify-verdict")).to_contain_text("Accepted: accepted by the fields recipe")
        expect(page.locator("#verify-sample-result")).to_contain_text("cpx-1")
        expect(page.locator("#verify-sample-result .help")).to_have_count(0)  # no note: the key is this network's
        assert page.evaluate("window.__marker") == 1, "the page reloaded"

    network = Network.objects.get()
    assert network.key == key
    assert (network.name, network.hmac_secret) == ("CPX Research", SECRET)
    assert network.status_mapping == {"1": "approved", "2": "reversed"}
