"""Shared fixtures, and two CI rules: a test skipped for a missing service fails in CI; slow tests run only there."""

import os
import time
from decimal import Decimal
from types import SimpleNamespace

import hypothesis
import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client
from rest_framework.authtoken.models import Token

from partners.tasks import drain
from postbacks_project.celery import app as celery_app
from postbacks_project.enqueue import woken
from receiver.models import Click, Network, Offer
from tests.support.sink import Sink

IN_CI = os.environ.get("CI", "").lower() == "true"
# Slow tests (the fault tests: real processes, seconds to minutes each) run in CI; RUN_SLOW=1 runs them locally.
RUN_SLOW = IN_CI or os.environ.get("RUN_SLOW", "").lower() in ("1", "true", "yes")
SERVICE_MISSING = "service unavailable:"

# Hypothesis (the receiver's property tests, the API's schema fuzzing) replays the same examples on every run by
# default, so that `make test` never fails a newcomer by luck and a red CI is reproducible. Exploring new examples is
# opt-in (HYPOTHESIS_PROFILE=explore): what it finds is kept in .hypothesis/ and replayed first next time, and is a
# bug to fix with the example pinned in a test.
hypothesis.settings.register_profile("replay", derandomize=True, database=None, print_blob=True)
hypothesis.settings.register_profile("explore", print_blob=True)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "replay"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and SERVICE_MISSING in str(report.longrepr):
        report.outcome = "failed"
        report.longrepr = f"CI=true: a needed service is missing, which fails in CI ({report.longrepr})"


def pytest_collection_modifyitems(config, items):
    from django.db import connection

    if not RUN_SLOW:
        slow = pytest.mark.skip(reason="slow: runs in CI (CI=true) or with RUN_SLOW=1")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(slow)
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: runs in the PostgreSQL pass (DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The admin tests log in hundreds of times; a slow hash is a cost with no test value.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _celery_in_process():
    # Unit tests run tasks in-process; the end-to-end tests switch this off for a real worker.
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False
    # A test that stubbed the drain task leaves its wake-up marked queued; the next test starts with none.
    woken(drain)


@pytest.fixture(autouse=True)
def _fresh_rate_limits(monkeypatch):
    cache.clear()
    # django-ratelimit counts in fixed windows of the clock: a test's requests must not straddle one's end.
    now = time.time()
    monkeypatch.setattr("django_ratelimit.core.time", SimpleNamespace(time=lambda: now))
    yield
    cache.clear()


@pytest.fixture
def sink():
    """A local partner on 127.0.0.1 that records every request (tests/support/sink.py)."""
    with Sink() as partner:
        yield partner


@pytest.fixture
def network(db):
    return Network.objects.create(name="Acme Network")


@pytest.fixture
def offer(network):
    return Offer.objects.create(
        network=network, name="Daily Survey", url="https://acme.example/go?sub={click_id}", payout=Decimal("2.50")
    )


@pytest.fixture
def click(offer):
    return Click.objects.create(offer=offer, user_id="alice", sub1="s1")


@pytest.fixture
def postback_url(network):
    return f"/postback/{network.key}/"


@pytest.fixture
def member_client(client, django_user_model):
    """Logged in, but not staff: the API answers 403."""
    client.force_login(django_user_model.objects.create_user("member", password="x"))
    return client


@pytest.fixture
def app_server(db, django_user_model):
    """Our app server: a non-staff user whose token may claim offers and do nothing else."""
    user = django_user_model.objects.create_user("app-server")
    user.user_permissions.add(Permission.objects.get(codename="claim_offer"))
    return Client(headers={"authorization": f"Token {Token.objects.create(user=user).key}"})


@pytest.fixture
def token_client(admin_user):
    """A staff caller with an API token and no session, as an integrator's script would be."""
    token = Token.objects.create(user=admin_user)
    return Client(headers={"authorization": f"Token {token.key}"})
