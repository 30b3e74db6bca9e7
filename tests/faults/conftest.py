"""Fault-test fixtures: real workers (the Procfile's threads pool), a gunicorn server, a local partner, and a poll."""

import os
import time

import pytest

from tests.support.server import Server
from tests.support.workers import _celery_in_process as _celery_in_process
from tests.support.workers import broker as broker
from tests.support.workers import database_url, workers_fixture

# As `make run` starts them: one process, 8 threads. Short retries; a test overrides what it is about.
workers = workers_fixture("faults", pool="threads", concurrency=8, DELIVERY_RETRY_SCHEDULE="0,1,1,1")


@pytest.fixture
def servers(transactional_db, broker, tmp_path):
    """Starts gunicorn servers on the test database and broker: `servers.start(**env)`; stopped before the flush."""
    started = []

    class Servers:
        def start(self, **env):
            full_env = {
                **os.environ,
                **broker,
                "DATABASE_URL": database_url(),
                "DJANGO_SETTINGS_MODULE": "postbacks_project.settings",
                # The tests send hundreds of postbacks from one address in seconds.
                "RECEIVER_RATE_LIMIT": "",
                **{k: str(v) for k, v in env.items()},
            }
            server = Server(full_env, tmp_path / f"gunicorn-{len(started) + 1}.log")
            started.append(server)
            return server.wait_ready()

        def logs(self):
            return "\n".join(f"--- gunicorn log ---\n{s.log()}" for s in started)

    yield Servers()
    for server in started:
        server.stop()


@pytest.fixture
def wait_until(request, sink):
    """Poll `predicate` until it is true; past `timeout` fail with what the partner received and the process logs."""

    def wait(predicate, what, timeout=60):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                logs = [
                    request.getfixturevalue(name).logs()
                    for name in ("workers", "servers")
                    if name in request.fixturenames
                ]
                pytest.fail(
                    f"timed out after {timeout} s waiting for {what}\n"
                    f"the partner received {len(sink.received)} requests\n" + "\n".join(logs),
                    pytrace=False,
                )
            time.sleep(0.05)

    return wait
