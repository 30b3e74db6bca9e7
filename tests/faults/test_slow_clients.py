"""Clients that never finish their bodies, against the Procfile's gunicorn: they time out, the hub keeps answering."""

import socket
import time

import pytest

from receiver.models import ReceivedPostback

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

STALLED = 10  # more than the server's threads


def stalled_postback(port, key, number):
    """A postback whose body promises 100 bytes and sends 10, then nothing: its socket is kept open."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        f"POST /postback/{key}/?click_id=slow-{number} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\npayout=1&".encode()
    )
    return sock


def test_bodies_that_never_finish_time_out_and_the_hub_keeps_answering(servers, network):
    server = servers.start(WEB_BODY_TIMEOUT=2)
    stalled = [stalled_postback(server.port, network.key, number) for number in range(STALLED)]
    try:
        time.sleep(0.5)  # every thread is now waiting on a body

        health = server.get("/api/postback/health")
        postback = server.get(f"/postback/{network.key}/", params={"click_id": "after-the-stall"})

        assert health.status_code == 200
        assert postback.json()["success"] is True
        rows = ReceivedPostback.objects.filter(click_id__startswith="slow-")
        for _ in range(300):  # the last ones wait for a thread, then for their own deadline
            if rows.count() == STALLED:
                break
            time.sleep(0.1)
    finally:
        for sock in stalled:
            sock.close()
    assert rows.count() == STALLED, servers.logs()
    assert set(rows.values_list("reason", flat=True)) == {"incomplete_body"}
    assert {row.message for row in rows} == {
        "the body could not be read to its end: the body took longer than 2 s to arrive"
    }
