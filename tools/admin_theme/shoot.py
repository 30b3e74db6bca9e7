"""One theme's pass: the admin pages that matter at 1366 and 390 px, shot, weighed and measured into OUT/report.json.

Run by compare.py under pytest (the browser tests' seed, live server and Chromium); OUT comes from ADMIN_THEME_OUT.
"""

import gzip
import json
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.browser.test_admin_pages import WIDTHS, hub, overflow, pages  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOWN = ["admin-index", "partners", "partner", "received-postbacks", "conversion-trace", "deliveries"]
SHOWN += ["test-postback", "dashboard"]
# What tests/browser/test_admin_pages.py requires on a laptop's screen.
KEY_COLUMNS = {
    "deliveries": ["state_badge", "attempts", "code", "last_error_short", "next_attempt"],
    "received-postbacks": ["received_at", "outcome_badge", "reason", "code", "click"],
}
# Boxes that scroll sideways and by how much: what a reader must scroll to see, inside a page that itself fits.
SIDEWAYS = """Array.from(document.querySelectorAll('*')).filter(e => {
  const x = getComputedStyle(e).overflowX;
  return (x === 'auto' || x === 'scroll') && e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1;
}).map(e => [e.id ? '#' + e.id : e.tagName.toLowerCase() + '.' + [...e.classList].slice(0, 2).join('.'),
             e.scrollWidth - e.clientWidth])"""
# unfold scrolls inside its own main box, so a full-page shot would be one window: the content's real height.
TALLEST = """Math.max(document.documentElement.scrollHeight, ...Array.from(document.querySelectorAll('*')).filter(e => {
  const y = getComputedStyle(e).overflowY; return y === 'auto' || y === 'scroll';
}).map(e => e.scrollHeight + e.getBoundingClientRect().top))"""


def log_in(page, live_server):
    # ?next=: unfold's login form carries no `next` of its own.
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "browser-test-pw")
    page.click("#login-form [type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/$"))


def weigh(responses):
    """Bytes of CSS and JS a page load fetched, as served and gzipped (what a compressing proxy would send)."""
    weight = {"css": 0, "js": 0, "css_gzip": 0, "js_gzip": 0, "requests": len(responses)}
    for response in responses:
        kind = {"stylesheet": "css", "script": "js"}.get(response.request.resource_type)
        if not kind:
            continue
        try:
            body = response.body()
        except PlaywrightError:  # a file the browser dropped before its body was kept: named, not counted
            weight.setdefault("unread", []).append(response.url)
            continue
        weight[kind] += len(body)
        weight[f"{kind}_gzip"] += len(gzip.compress(body))
    return weight


def test_shoot(live_server, chromium, hub):  # noqa: F811
    out = Path(os.environ["ADMIN_THEME_OUT"])
    out.mkdir(parents=True, exist_ok=True)
    report = {}
    with chromium() as browser:
        for width, height in WIDTHS.values():
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(15_000)
            log_in(page, live_server)
            for name, path in pages(hub):
                if name not in SHOWN:
                    continue
                responses = []

                def seen(response, responses=responses):
                    responses.append(response)

                page.on("response", seen)
                status = page.goto(live_server.url + path).status
                page.wait_for_load_state("networkidle")
                page.remove_listener("response", seen)
                entry = {"status": status, "overflow": overflow(page), "sideways": page.evaluate(SIDEWAYS)}
                entry.update(weigh(responses))
                entry["badges"] = page.locator(".badge:visible").count()
                if width == 1366 and name in KEY_COLUMNS:
                    edges = {}
                    for column in KEY_COLUMNS[name]:
                        header = page.locator(f"#result_list th.column-{column}")
                        box = header.bounding_box() if header.count() else None
                        edges[column] = None if box is None else round(box["x"] + box["width"])
                    entry["key_column_right_edges"] = edges
                page.set_viewport_size({"width": width, "height": max(height, min(page.evaluate(TALLEST), 6000))})
                page.wait_for_timeout(300)
                shot = out / f"{name}-{width}.jpg"
                shot.write_bytes(page.screenshot(full_page=True, type="jpeg", quality=60))
                page.set_viewport_size({"width": width, "height": height})
                report[f"{name}-{width}"] = entry
            page.close()
    (out / "report.json").write_text(json.dumps(report, indent=1))
