"""GET /metrics is off until a token or an allowlist is set, and then only for that token or those addresses."""

import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured

from postbacks_project import settings as project_settings
from tests.support.scrape import TOKEN, samples


@pytest.fixture(autouse=True)
def _db(db):
    pass


def test_with_neither_a_token_nor_an_allowlist_it_answers_404_saying_how_to_turn_it_on(client):
    answer = client.get("/metrics")

    assert answer.status_code == 404
    assert "METRICS_TOKEN or METRICS_ALLOWED_IPS" in answer.json()["message"]


def test_the_right_bearer_token_reads_the_metrics(client, settings):
    settings.METRICS_TOKEN = TOKEN

    answer = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})

    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain; version=")
    assert ("metrics_database_ok", frozenset()) in samples(answer.content.decode())


@pytest.mark.parametrize(
    "authorization",
    ["", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Token {TOKEN}", TOKEN, "Bearer", "Bearer é"],
    ids=["missing", "longer", "shorter", "other-scheme", "no-scheme", "empty", "not-ascii"],
)
def test_a_missing_or_wrong_token_gets_401_and_no_metrics(client, settings, authorization):
    settings.METRICS_TOKEN = TOKEN

    answer = client.get("/metrics", headers={"authorization": authorization} if authorization else {})

    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert answer.json()["success"] is False


def test_an_allowed_address_reads_the_metrics_without_a_token(client, settings):
    settings.METRICS_ALLOWED_IPS = _allow("10.1.2.0/24", "192.0.2.7")

    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.200").status_code == 200


def test_an_address_outside_the_allowlist_gets_403(client, settings):
    settings.METRICS_ALLOWED_IPS = _allow("10.1.2.0/24")

    answer = client.get("/metrics", REMOTE_ADDR="10.1.3.1")

    assert answer.status_code == 403
    assert answer.json()["message"] == "this address may not read the metrics"


def test_behind_a_trusted_proxy_the_allowlist_reads_the_sender_not_the_proxy(client, settings):
    settings.METRICS_ALLOWED_IPS = _allow("10.1.2.0/24")
    settings.RECEIVER_TRUSTED_PROXIES = 1

    forged = client.get("/metrics", REMOTE_ADDR="10.1.2.1", HTTP_X_FORWARDED_FOR="10.1.2.9, 203.0.113.5")
    allowed = client.get("/metrics", REMOTE_ADDR="10.1.2.1", HTTP_X_FORWARDED_FOR="203.0.113.5, 10.1.2.9")

    assert (forged.status_code, allowed.status_code) == (403, 200)


def test_with_both_set_an_allowed_address_or_the_token_is_enough(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = _allow("10.1.2.0/24")

    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.1", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.1").status_code == 401


def test_the_allowlist_must_be_addresses_or_networks(monkeypatch):
    monkeypatch.setenv("METRICS_ALLOWED_IPS", "10.0.0.0/8, prometheus.internal")

    with pytest.raises(ImproperlyConfigured, match=r"'prometheus\.internal'"):
        project_settings._networks("METRICS_ALLOWED_IPS")


def test_a_short_token_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("METRICS_TOKEN", "secret")

    with pytest.raises(ImproperlyConfigured, match="at least 16 characters"):
        project_settings._token("METRICS_TOKEN")


def test_the_token_may_come_from_a_file(monkeypatch, tmp_path):
    (tmp_path / "token").write_text(TOKEN + "\n")
    monkeypatch.setenv("METRICS_TOKEN_FILE", str(tmp_path / "token"))

    assert project_settings._token("METRICS_TOKEN") == TOKEN


def _allow(*networks):
    return [ipaddress.ip_network(network) for network in networks]
