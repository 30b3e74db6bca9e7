"""The sender's address behind trusted proxies: counted from the right, so a client cannot pick its own."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from postbacks_project import settings as project_settings
from receiver.models import ReceivedPostback

PROXY = "10.0.0.1"


def send(client, postback_url, forwarded=None, peer=PROXY, click_id="c1"):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client.get(postback_url, {"click_id": click_id}, REMOTE_ADDR=peer, **headers)


def stored_address():
    return ReceivedPostback.objects.order_by("-id").first().remote_addr


@override_settings(RECEIVER_TRUSTED_PROXIES=1)
def test_behind_one_proxy_the_rightmost_forwarded_entry_is_the_sender(client, postback_url):
    send(client, postback_url, "203.0.113.7, 198.51.100.7")

    assert stored_address() == "198.51.100.7"


@override_settings(RECEIVER_TRUSTED_PROXIES=2)
def test_behind_two_proxies_the_entry_before_the_inner_proxys_is_the_sender(client, postback_url):
    send(client, postback_url, "203.0.113.7, 198.51.100.7, 10.0.0.2")

    assert stored_address() == "198.51.100.7"


@override_settings(RECEIVER_TRUSTED_PROXIES=0)
def test_without_trusted_proxies_the_forwarded_header_is_ignored(client, postback_url):
    send(client, postback_url, "198.51.100.7", peer="192.0.2.4")

    assert stored_address() == "192.0.2.4"


@override_settings(RECEIVER_TRUSTED_PROXIES=2)
def test_a_header_shorter_than_the_proxy_chain_names_no_sender(client, postback_url):
    send(client, postback_url, "")

    assert stored_address() is None


@override_settings(RECEIVER_TRUSTED_PROXIES=1)
def test_a_spoofed_leftmost_entry_does_not_pass_a_networks_allowlist(client, network, postback_url):
    network.allowed_ips = "203.0.113.7"
    network.save()

    response = send(client, postback_url, "203.0.113.7, 198.51.100.7")

    assert response.status_code == 403
    assert stored_address() == "198.51.100.7"


@override_settings(RECEIVER_TRUSTED_PROXIES=1, RECEIVER_RATE_LIMIT="3/m")
def test_spoofed_leftmost_entries_share_the_senders_rate_limit_bucket(client, postback_url):
    codes = [send(client, postback_url, f"203.0.113.{n}, 198.51.100.7", click_id=f"c{n}").status_code for n in range(5)]

    assert codes == [200, 200, 200, 429, 429]


@override_settings(RECEIVER_TRUSTED_PROXIES=["10.0.0.0/8"])
def test_behind_a_proxy_named_by_its_network_the_entry_it_appended_is_the_sender(client, postback_url):
    send(client, postback_url, "203.0.113.7, 198.51.100.7", peer="10.1.2.3")

    assert stored_address() == "198.51.100.7"


@override_settings(RECEIVER_TRUSTED_PROXIES=["10.0.0.0/8"])
def test_a_connection_that_bypasses_the_named_proxy_is_its_own_sender(client, postback_url):
    send(client, postback_url, "198.51.100.7", peer="192.0.2.4")

    assert stored_address() == "192.0.2.4"


@override_settings(RECEIVER_TRUSTED_PROXIES=["203.0.113.0/24", "10.0.0.0/8"])
def test_behind_two_named_proxies_a_forged_outer_proxy_names_no_sender(client, postback_url):
    send(client, postback_url, "198.51.100.7, 192.0.2.99", peer="10.1.2.3")

    assert stored_address() is None


@override_settings(RECEIVER_TRUSTED_PROXIES=["203.0.113.0/24", "10.0.0.0/8"])
def test_behind_two_named_proxies_the_entry_before_the_outer_one_is_the_sender(client, postback_url):
    send(client, postback_url, "192.0.2.1, 198.51.100.7, 203.0.113.5", peer="10.1.2.3")

    assert stored_address() == "198.51.100.7"


@pytest.mark.parametrize(
    ("raw", "expected"), [("", 0), ("0", 0), ("2", 2), ("10.0.0.0/8, 192.0.2.1", ["10.0.0.0/8", "192.0.2.1"])]
)
def test_trusted_proxies_are_a_count_or_a_list_of_networks(monkeypatch, raw, expected):
    monkeypatch.setenv("RECEIVER_TRUSTED_PROXIES", raw)

    assert project_settings._trusted_proxies("RECEIVER_TRUSTED_PROXIES") == expected


def test_a_trusted_proxy_that_is_not_an_address_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("RECEIVER_TRUSTED_PROXIES", "nginx")

    with pytest.raises(ImproperlyConfigured, match="'nginx' is not an address or network"):
        project_settings._trusted_proxies("RECEIVER_TRUSTED_PROXIES")


def test_the_replaced_forwarded_for_flag_is_a_configuration_error_that_names_its_successor(monkeypatch):
    monkeypatch.setenv("RECEIVER_TRUST_X_FORWARDED_FOR", "true")

    with pytest.raises(ImproperlyConfigured, match="RECEIVER_TRUSTED_PROXIES"):
        project_settings._trusted_proxies("RECEIVER_TRUSTED_PROXIES")
