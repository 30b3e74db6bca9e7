"""Browser fixtures: Debian's Chromium under Playwright, a real Celery worker on the test database, local partners.

The web side is pytest-django's `live_server` (a thread of this process on the test database), so tasks queued by
its requests go through the broker configured here to the worker subprocess, never in-process.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from postbacks_project.celery import app as celery_app

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


@pytest.fixture(autouse=True)
def _celery_in_process():
    """Overrides the suite's eager mode: the live server's tasks go through the broker to the worker subprocess."""
    celery_app.conf.task_always_eager = False


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


class Partner:
    """A local partner: a threaded HTTP server on 127.0.0.1 that records each request path and answers `status`."""

    def __init__(self, status, body):
        self.paths = []
        partner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                partner.paths.append(self.path)
                payload = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def partner_ok():
    partner = Partner(200, "ok, test received")
    yield partner
    partner.stop()


@pytest.fixture
def partner_broken():
    partner = Partner(500, "internal error: partner B is down")
    yield partner
    partner.stop()


def _database_url():
    """The database pytest-django created for this run, as a DATABASE_URL for the worker."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        user += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{user}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"


def _use_transport_options(options):
    celery_app.conf.broker_transport_options = options
    # Connections are pooled with their options: drop the pools so that the next publish opens a new one.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker(tmp_path):
    """The broker shared with the worker: a fresh filesystem queue under a temporary VAR_DIR, or Redis, purged.

    Yields the environment the worker needs to find the same broker.
    """
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    filesystem = settings.CELERY_BROKER_URL.startswith("filesystem://")
    saved = celery_app.conf.broker_transport_options
    if filesystem:
        # The worker derives its folders from its VAR_DIR; this process must publish into the same ones.
        options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
        for key, value in options.items():
            if "folder" in key:
                folder = var_dir / Path(value).relative_to(settings.VAR_DIR)
                folder.mkdir(parents=True, exist_ok=True)
                options[key] = str(folder)
        _use_transport_options(options)
    else:
        celery_app.control.purge()
    try:
        yield {"CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "VAR_DIR": str(var_dir)}
    finally:
        if filesystem:
            _use_transport_options(saved)
        else:
            celery_app.control.purge()


class Worker:
    """`celery worker` in its own process group, logging to a file."""

    def __init__(self, env, log_path):
        self.log_path = log_path
        command = [sys.executable, "-m", "celery", "-A", "postbacks_project", "worker", "--pool", "solo"]
        command += ["--loglevel", "INFO", "--without-mingle", "--without-gossip", "--hostname", "browser@%h"]
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while " ready." not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start\n{self.log()}", pytrace=False)
            time.sleep(0.1)

    def stop(self, grace=3):
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def worker(transactional_db, broker, tmp_path):
    """A real worker on the test database and broker, allowed to reach loopback partners; stopped before the flush."""
    env = {
        **os.environ,
        **broker,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "postbacks_project.settings",
        "OUTBOUND_ALLOW_LOOPBACK": "true",
    }
    process = Worker(env, tmp_path / "worker.log")
    process.wait_ready()
    yield process
    process.stop()
