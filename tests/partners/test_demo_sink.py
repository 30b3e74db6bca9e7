"""The demo partner's sink: answers the hub's own loopback calls in development, and is a 404 everywhere else."""

import pytest


@pytest.fixture
def loopback_allowed(settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = True


def test_it_answers_200_and_echoes_what_it_received(client, loopback_allowed):
    response = client.post("/demo/sink/?click=c1", data=b'{"payout": "1.50"}', content_type="application/json")

    assert response.status_code == 200
    body = '{"payout": "1.50"}'
    assert response.json() == {"received": True, "method": "POST", "query": {"click": "c1"}, "body": body}


def test_it_is_a_404_where_partner_urls_may_not_reach_loopback(client, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = False

    assert client.get("/demo/sink/").status_code == 404


def test_it_is_a_404_for_a_caller_off_loopback(client, loopback_allowed):
    assert client.get("/demo/sink/", REMOTE_ADDR="203.0.113.9").status_code == 404
