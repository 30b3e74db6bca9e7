"""Fixtures of the receiver's tests that look at the events and deliveries a postback makes, not at their sends."""

import pytest

from partners import outbox
from partners.models import Partner


@pytest.fixture
def nothing_sent(monkeypatch):
    # These tests look at the deliveries an event is routed into, none is sent. The drainer woken after commit would
    # route it, but a unit test never commits: route at once.
    monkeypatch.setattr("partners.forwarding.wake_drainer", outbox.route)


@pytest.fixture
def partner(db):
    return Partner.objects.create(name="Wall", postback_url="https://wall.example/pb?c={click_id}&s={status}")
