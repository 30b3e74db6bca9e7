"""What the receiver keeps of a request, and how little database work an accepted postback costs."""

import json

import pytest
from django.db import connection
from django.test import override_settings

from partners.models import Partner
from partners.tasks import drain
from postbacks_project.enqueue import woken
from receiver.models import ConversionEvent, ReceivedPostback


def test_it_stores_the_raw_request(client, postback_url, network):
    client.post(
        f"{postback_url}?src=q", '{"click_id": "c1"}', content_type="application/json", HTTP_USER_AGENT="net/1.0"
    )

    row = ReceivedPostback.objects.get()
    assert row.method == "POST"
    assert row.query == "src=q"
    assert row.content_type == "application/json"
    assert bytes(row.body) == b'{"click_id": "c1"}'
    assert row.headers["user-agent"] == "net/1.0"
    assert row.remote_addr == "127.0.0.1"
    assert row.network == network
    assert row.params["click_id"] == "c1"


def test_it_masks_secrets_in_headers_path_and_query(client, network):
    client.get(
        f"/api/postback/?key={network.key}&click_id=c1",
        HTTP_AUTHORIZATION="Bearer very-secret-token",
        HTTP_COOKIE="sessionid=abcdefghijk",
        HTTP_X_API_KEY="another-secret-value",
    )
    client.get(f"/postback/{network.key}/", {"click_id": "c2"})

    stored = json.dumps(list(ReceivedPostback.objects.values("path", "query", "headers")))
    for secret in (network.key, "very-secret-token", "abcdefghijk", "another-secret-value"):
        assert secret not in stored


def test_a_rejected_request_keeps_its_click_id_and_reason(client, network, postback_url):
    network.param_mapping = {"click_id": "subid"}
    network.save()

    client.get(postback_url, {"subid": "c1", "payout": "lots"})

    row = ReceivedPostback.objects.get()
    assert (row.outcome, row.reason, row.click_id) == ("rejected", "invalid_payout", "c1")
    assert "lots" in row.message


def test_an_unknown_click_is_rejected_when_the_network_requires_known_clicks(client, network, postback_url):
    network.require_known_click = True
    network.save()

    body = client.get(postback_url, {"click_id": "never-generated"}).json()

    assert (body["success"], body["reason"]) == (False, "unknown_click")
    assert ReceivedPostback.objects.get().reason == "unknown_click"


def test_a_known_click_is_accepted_when_the_network_requires_known_clicks(client, network, postback_url, click):
    network.require_known_click = True
    network.save()

    body = client.get(postback_url, {"click_id": click.click_id}).json()

    assert body["success"] is True


def test_a_click_of_another_networks_offer_is_unknown_here(client, click, db):
    from receiver.models import Network

    strict = Network.objects.create(name="Strict", require_known_click=True)

    body = client.get(f"/postback/{strict.key}/", {"click_id": click.click_id}).json()

    assert body["reason"] == "unknown_click"


@override_settings(RECEIVER_TRUSTED_PROXIES=1)
def test_behind_a_trusted_proxy_the_forwarded_address_is_the_sender(client, postback_url):
    client.get(postback_url, {"click_id": "c1"}, HTTP_X_FORWARDED_FOR="198.51.100.7", REMOTE_ADDR="10.0.0.1")

    assert ReceivedPostback.objects.get().remote_addr == "198.51.100.7"


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(client, postback_url):
    client.get(postback_url, {"click_id": "c1"}, HTTP_X_FORWARDED_FOR="198.51.100.7")

    assert ReceivedPostback.objects.get().remote_addr == "127.0.0.1"


@pytest.mark.django_db(transaction=True)
def test_an_accepted_postback_costs_two_statements_on_postgresql_seven_on_sqlite_and_makes_no_delivery(
    client, postback_url, click, django_assert_num_queries, monkeypatch
):
    Partner.objects.create(name="Wall", postback_url="https://wall.example/pb?c={click_id}")
    queued = []
    monkeypatch.setattr("partners.tasks.drain.apply_async", lambda *args, **kwargs: queued.append(args))
    client.get(postback_url, {"click_id": "warm-up"})  # loads this process's copy of the networks
    queued.clear()
    woken(drain)  # the drainer took the warm-up's wake-up

    # A real transaction, as in production: the click with the configuration's token, then the conversion's INSERT ...
    # ON CONFLICT DO NOTHING RETURNING id, the postback, the event and the user's points entry: on PostgreSQL one
    # statement of chained INSERTs in autocommit, on SQLite four between BEGIN and COMMIT. (A payout in the house
    # currency needs no exchange-rate lookup.) Routing is the worker's, after commit.
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 7):
        response = client.get(postback_url, {"click_id": click.click_id, "payout": "1", "transaction_id": "t1"})

    assert response.json()["success"] is True
    event = ConversionEvent.objects.get(conversion__click_id=click.click_id)
    assert (event.routed_at, event.deliveries.count()) == (None, 0)
    assert queued == [((),)]  # the drainer is woken, once
    client.get(postback_url, {"click_id": click.click_id, "payout": "1", "transaction_id": "t2"})
    assert queued == [((),)], "a wake-up queued and not started yet does for the next postback too"


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_costs_at_most_one_query_more_than_an_accepted_postback(
    client, postback_url, django_assert_max_num_queries
):
    params = {"click_id": "c1", "transaction_id": "t1"}
    client.get(postback_url, params)

    with django_assert_max_num_queries(9):
        response = client.get(postback_url, params)

    assert response.json()["duplicate"] is True


def test_a_key_sent_in_the_body_is_stored_masked(client, network):
    client.post("/api/postback/", {"key": network.key, "click_id": "c1"}, content_type="application/json")
    client.post("/api/postback/", f"key={network.key}&click_id=c2", content_type="application/x-www-form-urlencoded")

    for body in ReceivedPostback.objects.values_list("body", flat=True):
        assert network.key.encode() not in bytes(body)
        assert network.key[:4].encode() in bytes(body)


def test_a_key_sent_as_a_parameter_is_stored_masked_in_the_params(client, network):
    client.get("/api/postback/", {"key": network.key, "payout": "bad", "click_id": "c1"})

    row = ReceivedPostback.objects.get()
    assert row.reason == "invalid_payout"
    assert row.params["key"] == network.key[:4] + "…"


@pytest.mark.parametrize(
    ("method", "content_type", "body"),
    [
        ("PUT", "application/x-www-form-urlencoded", "click_id=c1&key={key}"),
        ("DELETE", "application/json", '{{"key": "{key}"}}'),
    ],
)
def test_a_key_sent_in_the_body_of_a_request_refused_before_parsing_is_stored_masked(
    client, network, method, content_type, body
):
    response = client.generic(method, "/api/postback/", body.format(key=network.key), content_type=content_type)

    assert response.status_code == 405
    row = ReceivedPostback.objects.get()
    assert network.key.encode() not in bytes(row.body)
    assert network.key[:4].encode() in bytes(row.body)


@override_settings(RECEIVER_RATE_LIMIT="1/m")
def test_a_key_sent_in_a_rate_limited_body_is_stored_masked(client, network):
    for _ in range(2):
        response = client.post("/api/postback/", {"click_id": "c1", "key": network.key})

    assert response.status_code == 429
    assert network.key.encode() not in bytes(ReceivedPostback.objects.order_by("-id").first().body)
