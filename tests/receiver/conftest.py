"""Fixtures of the receiver's tests that look at the events and deliveries a postback makes, not at their sends."""

import pytest

from partners.models import Partner


@pytest.fixture
def nothing_sent(monkeypatch):
    # Deliveries are made in the receiver's transaction, which is what these tests look at; none is sent.
    monkeypatch.setattr("partners.forwarding.wake_drainer", lambda: None)


@pytest.fixture
def partner(db):
    return Partner.objects.create(name="Wall", postback_url="https://wall.example/pb?c={click_id}&s={status}")
