"""SSRF: a partner URL aimed at our own networks is refused before a byte is sent, and the attempt says why.

Every case goes through both senders (a real delivery after a postback, and a test postback through its API),
with two witnesses that nothing left: a real listener on 127.0.0.1 (the loopback forms carry its port, so a
filter that let them through would land there) and a spy on urllib3's one socket opener, which records every
connection and refuses any address off this machine, so that a broken filter can never reach another host.
"""

import socket
import threading

import pytest
import urllib3.util.connection

from partners.models import DeliveryAttempt, Partner
from testing_tools.models import TestPostback

BLOCKED_REASON = "blocked address"
# A global address, used only where the spy refuses the connection: no packet goes to it.
PUBLIC_IP = "93.184.215.14"
FAKE_DNS = {
    "loopback.partner.example": ["127.0.0.1"],
    "internal.partner.example": ["10.0.0.1"],
    "metadata.partner.example": ["169.254.169.254"],
    "v6-metadata.partner.example": ["fd00:ec2::254"],
    "mapped.partner.example": ["::ffff:127.0.0.1"],
    # DNS rebinding: a public answer, then loopback on the next look-up, and so on.
    "rebinding.partner.example": [PUBLIC_IP, "127.0.0.1"],
}

LOOPBACK_FORMS = [
    "http://127.0.0.1:PORT/pb",
    "http://localhost:PORT/pb",
    "http://[::1]:PORT/pb",
    "http://[::ffff:127.0.0.1]:PORT/pb",
    "http://[0:0:0:0:0:ffff:7f00:1]:PORT/pb",
    "http://2130706433:PORT/pb",
    "http://0177.0.0.1:PORT/pb",
    "http://017700000001:PORT/pb",
    "http://0x7f.0.0.1:PORT/pb",
    "http://0x7f000001:PORT/pb",
    "http://127.1:PORT/pb",
    "HTTP://127.0.0.1:PORT/pb",
    "http://partner.example@127.0.0.1:PORT/pb",
    "http://loopback.partner.example:PORT/pb",
    "http://mapped.partner.example:PORT/pb",
]
# Blocked whether or not OUTBOUND_ALLOW_LOOPBACK is on. (0.0.0.0 and :: connect to this machine on Linux.)
OTHER_FORMS = [
    "http://0.0.0.0:PORT/pb",
    "http://0:PORT/pb",
    "http://[::]:PORT/pb",
    "http://10.0.0.1/pb",
    "http://10.255.255.254/pb",
    "http://172.16.0.1/pb",
    "http://172.31.255.254/pb",
    "http://192.168.0.1/pb",
    "http://169.254.1.1/pb",
    "http://[fe80::1]/pb",
    "http://169.254.169.254/latest/meta-data/",
    "http://0251.0376.0251.0376/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://[::ffff:10.0.0.1]/pb",
    "http://100.100.100.200/latest/meta-data/",
    # IPv4-compatible and IPv4-translated IPv6 forms, and site-local: requests-hardened 1.3.0 let these
    # through (transport.py adds their ranges).
    "http://[::127.0.0.1]:PORT/pb",
    "http://[::10.0.0.1]/pb",
    "http://[::ffff:0:169.254.169.254]/pb",
    "http://[fec0::1]/pb",
    "http://internal.partner.example/pb",
    "http://metadata.partner.example/latest/meta-data/",
    "http://v6-metadata.partner.example/latest/meta-data/",
]


class Listener:
    """A real TCP server on 127.0.0.1: records each connection and what it sent, answers each with `reply`."""

    def __init__(self, reply=b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"):
        self.reply = reply
        self.connections = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="ssrf-listener", daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return  # closed by stop()
            received = []
            self.connections.append(received)  # recorded on accept, before a byte is read
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                received.append(data)
                conn.sendall(self.reply)

    def stop(self):
        # close() alone leaves accept() blocked in the thread; shutdown() wakes it (Linux).
        self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(timeout=5)


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.stop()


@pytest.fixture
def opened(monkeypatch):
    """Every connection urllib3 opens, as (address, port); only loopback ones are really made."""
    calls = []
    real = urllib3.util.connection.create_connection

    def spy(address, *args, **kwargs):
        calls.append(address)
        host = address[0].strip("[]")
        if host not in ("127.0.0.1", "::1"):
            raise ConnectionRefusedError(f"test spy: no connection off this machine ({host})")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", spy)
    return calls


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch):
    """Names under partner.example resolve from FAKE_DNS, each look-up taking the next answer in turn."""
    real = socket.getaddrinfo
    asked = {}

    def getaddrinfo(host, port, *args, **kwargs):
        if host in FAKE_DNS:
            answers = FAKE_DNS[host]
            address = answers[asked.get(host, 0) % len(answers)]
            asked[host] = asked.get(host, 0) + 1
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port or 80) if family == socket.AF_INET else (address, port or 80, 0, 0)
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.fixture
def send_both(admin_client, network, django_capture_on_commit_callbacks):
    """Point a partner at `url`, then send to it a real delivery and a test postback; returns both records."""

    def send(url):
        partner = Partner.objects.create(name="Target", slug="target", postback_url=url)
        with django_capture_on_commit_callbacks(execute=True):
            admin_client.get(f"/postback/{network.key}/", {"click_id": "c1", "transaction_id": "t1"})
        with django_capture_on_commit_callbacks(execute=True):
            answer = admin_client.post(
                "/api/admin/test-postback/send", {"rows": [{"partner_id": partner.pk}]}, content_type="application/json"
            )
        log = admin_client.get(f"/api/admin/test-postback/{answer.json()['batch']}").json()
        return DeliveryAttempt.objects.get(delivery__destination=partner), log["rows"][0]

    return send


def assert_blocked_before_sending(attempt, test_row, opened, listener, caplog):
    assert attempt.error.startswith(BLOCKED_REASON), attempt.error
    assert attempt.response_status is None
    assert attempt.delivery.last_error == attempt.error
    assert test_row["state"] == "failed"
    assert test_row["error"].startswith(BLOCKED_REASON), test_row["error"]
    assert TestPostback.objects.get().error == test_row["error"]
    assert f"delivery {attempt.delivery_id} to Target: retrying" in caplog.text
    assert opened == []
    assert listener.connections == []


@pytest.mark.parametrize("url", LOOPBACK_FORMS + OTHER_FORMS)
def test_a_url_to_our_own_networks_is_refused_before_any_byte_and_says_why(
    url, settings, listener, opened, send_both, caplog
):
    settings.OUTBOUND_ALLOW_LOOPBACK = False

    attempt, test_row = send_both(url.replace("PORT", str(listener.port)))

    assert_blocked_before_sending(attempt, test_row, opened, listener, caplog)


@pytest.mark.parametrize("url", OTHER_FORMS)
def test_allowing_loopback_still_refuses_every_other_internal_address(
    url, settings, listener, opened, send_both, caplog
):
    settings.OUTBOUND_ALLOW_LOOPBACK = True

    attempt, test_row = send_both(url.replace("PORT", str(listener.port)))

    assert_blocked_before_sending(attempt, test_row, opened, listener, caplog)


def test_the_witnesses_see_a_request_that_is_allowed(settings, listener, opened, send_both):
    """The control: with loopback allowed, the same listener and spy do record the two sends."""
    settings.OUTBOUND_ALLOW_LOOPBACK = True

    attempt, test_row = send_both(f"http://127.0.0.1:{listener.port}/pb")

    assert (attempt.response_status, attempt.error, test_row["state"]) == (204, "", "succeeded")
    assert opened == [("127.0.0.1", listener.port)] * 2
    assert len(listener.connections) == 2
    assert listener.connections[0][0].startswith(b"GET /pb HTTP/1.1\r\n")


def test_a_redirect_to_the_metadata_address_is_recorded_and_not_followed(settings, opened, send_both):
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    redirector = Listener(
        b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    try:
        attempt, test_row = send_both(f"http://127.0.0.1:{redirector.port}/pb")
    finally:
        redirector.stop()

    reason = "HTTP 302 Found (redirect to http://169.254.169.254/latest/meta-data/ not followed)"
    assert (attempt.response_status, attempt.error) == (302, reason)
    assert (test_row["state"], test_row["error"]) == ("failed", reason)
    assert opened == [("127.0.0.1", redirector.port)] * 2
    assert len(redirector.connections) == 2


def test_the_address_checked_is_the_address_connected_to(settings, listener, opened, send_both, fake_dns):
    """DNS rebinding: each send resolves the name once, checks that answer and connects to it, never re-resolving.

    The delivery gets the public answer (and connects there, refused by the spy); the test postback gets loopback.
    """
    settings.OUTBOUND_ALLOW_LOOPBACK = False

    attempt, test_row = send_both(f"http://rebinding.partner.example:{listener.port}/pb")

    assert fake_dns["rebinding.partner.example"] == 2
    assert opened == [(PUBLIC_IP, listener.port)]
    assert attempt.error_code == "refused", attempt.error
    assert test_row["error"].startswith(f"{BLOCKED_REASON}: 127.0.0.1"), test_row["error"]
    assert listener.connections == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:PORT/pb", "file:///etc/passwd", "gopher://127.0.0.1:PORT/_x"])
def test_schemes_other_than_http_are_refused_without_a_connection(url, settings, listener, opened, send_both):
    settings.OUTBOUND_ALLOW_LOOPBACK = True

    attempt, test_row = send_both(url.replace("PORT", str(listener.port)))

    assert (attempt.error, attempt.error_code) == ("only http and https URLs are sent", "invalid")
    assert attempt.error_detail.startswith("No connection adapters"), attempt.error_detail
    assert test_row["error"] == attempt.error
    assert opened == []
    assert listener.connections == []
