"""Fixtures of the test-postback tool's tests."""

import pytest

from partners.models import Partner

URL = "https://p.example/pb"


@pytest.fixture
def partner(db):
    return Partner.objects.create(
        name="Pub A", postback_url=URL + "?user={username}&offer={offer_name}&pts={points}&event={event}"
    )


@pytest.fixture
def queued(monkeypatch):
    """Record what would go to the broker instead of running it."""
    calls = []

    def record(args, countdown=None, task_id=None, **kwargs):
        calls.append({"args": args, "countdown": countdown, "task_id": task_id})

    monkeypatch.setattr("testing_tools.tasks.send_test_postback.apply_async", record)
    return calls
