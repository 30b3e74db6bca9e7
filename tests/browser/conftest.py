"""Browser fixtures: Debian's Chromium under Playwright, a real Celery worker on the test database, local partners.

The web side is pytest-django's `live_server` (a thread of this process on the test database), so tasks queued by
its requests go through the broker configured here to the worker subprocess, never in-process.
"""

import contextlib
from pathlib import Path

import pytest

from tests.support.sink import Reply, Sink
from tests.support.workers import _celery_in_process as _celery_in_process
from tests.support.workers import broker as broker
from tests.support.workers import workers_fixture

CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags Chromium keeps dialling Google's hosts, which the closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

workers = workers_fixture("browser", pool="solo")


@pytest.fixture
def worker(workers):
    """A real worker on the test database and broker, allowed to reach loopback partners; stopped before the flush."""
    return workers.start()


@pytest.fixture
def chromium():
    """Opens a headless Debian Chromium: `with chromium() as browser:`; Playwright gives each a fresh, empty profile.

    Playwright's sync API runs an event loop in this thread, where Django refuses ORM calls: do them outside the
    `with` block.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"service unavailable: {CHROMIUM} is missing (make test installs Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    @contextlib.contextmanager
    def launch():
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()

    return launch


@pytest.fixture
def partner_ok():
    with Sink(Reply(200, body=b"ok, test received")) as partner:
        yield partner


@pytest.fixture
def partner_broken():
    with Sink(Reply(500, body=b"internal error: partner B is down")) as partner:
        yield partner


@pytest.fixture(autouse=True)
def _loopback_partners(settings):
    # The partners here are local sinks on 127.0.0.1: the save-time address check (in this process and the live
    # server's thread) lets them in, as the worker's environment does.
    settings.OUTBOUND_ALLOW_LOOPBACK = True
