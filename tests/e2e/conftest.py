"""End-to-end fixtures: a real Celery worker subprocess on the test database and broker, and a local partner."""

import time

import pytest

from tests.support.workers import _celery_in_process as _celery_in_process
from tests.support.workers import broker as broker
from tests.support.workers import workers_fixture

# Short retries; a test overrides what it is about.
workers = workers_fixture("e2e", DELIVERY_RETRY_SCHEDULE="0,1,1,1", LOG_LEVEL="INFO")


@pytest.fixture
def wait_until(workers, sink):
    """Poll `predicate` until it is true; on timeout fail with what the partner received and the worker logs."""

    def wait(predicate, what, timeout=30):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                received = "\n".join(f"  {r.method} {r.path}" for r in sink.received) or "  (nothing)"
                pytest.fail(
                    f"timed out after {timeout} s waiting for {what}\n"
                    f"the partner received:\n{received}\n{workers.logs()}",
                    pytrace=False,
                )
            time.sleep(0.05)

    return wait


@pytest.fixture(autouse=True)
def _loopback_partners(settings):
    # The partners here are local sinks on 127.0.0.1: the save-time address check in this process lets them in,
    # as the worker's environment does (a test that wants them blocked starts its worker without it).
    settings.OUTBOUND_ALLOW_LOOPBACK = True
