"""The one HTTP door: what it sends, what it keeps of the answer, and what it refuses to reach."""

import pytest
import requests
import responses

from partners import transport
from partners.outbound import OutboundRequest


def get(url, **kwargs):
    return transport.send(OutboundRequest(method="GET", url=url, **kwargs))


@responses.activate
def test_a_2xx_answer_is_a_success_with_the_answer_kept():
    responses.get("https://p.example/pb", body="OK", status=202, headers={"X-Id": "9"})

    result = get("https://p.example/pb?c=1", headers={"X-Token": "t"})

    assert result.ok
    assert (result.status, result.body, result.error) == (202, "OK", "")
    assert result.headers["X-Id"] == "9"
    sent = responses.calls[0].request
    assert sent.headers["User-Agent"] == transport.USER_AGENT
    assert sent.headers["X-Token"] == "t"


@responses.activate
def test_a_post_sends_its_body_and_headers():
    responses.post("https://p.example/pb")

    transport.send(
        OutboundRequest(method="POST", url="https://p.example/pb", headers={"Content-Type": "a/b"}, body=b"x=1")
    )

    sent = responses.calls[0].request
    assert (sent.body, sent.headers["Content-Type"]) == (b"x=1", "a/b")


@responses.activate
@pytest.mark.parametrize("status", [301, 400, 404, 500, 503])
def test_anything_but_2xx_is_a_failure_that_says_the_code(status):
    responses.get("https://p.example/pb", status=status, headers={"Location": "https://elsewhere.example/"})

    result = get("https://p.example/pb")

    assert not result.ok
    assert result.error.startswith(f"HTTP {status}")


@responses.activate
def test_a_redirect_is_not_followed():
    responses.get("https://p.example/pb", status=302, headers={"Location": "http://169.254.169.254/latest"})

    result = get("https://p.example/pb")

    assert "not followed" in result.error
    assert len(responses.calls) == 1


@responses.activate
def test_a_long_answer_is_cut_to_one_kilobyte_with_a_marker():
    responses.get("https://p.example/pb", body="x" * 5000)

    result = get("https://p.example/pb")

    assert result.body == "x" * 1024 + transport.TRUNCATED


@responses.activate
@pytest.mark.parametrize(("header", "seconds"), [("120", 120.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_retry_after_is_read_from_seconds_or_a_date(header, seconds):
    responses.get("https://p.example/pb", status=429, headers={"Retry-After": header})

    assert get("https://p.example/pb").retry_after == seconds


@responses.activate
def test_a_timeout_is_a_result_not_an_exception():
    responses.get("https://p.example/pb", body=requests.ReadTimeout("slow"))

    result = get("https://p.example/pb")

    assert (result.status, result.error) == (None, "timed out after 10 s")


@responses.activate
def test_a_connection_error_is_a_result_not_an_exception():
    responses.get("https://p.example/pb", body=requests.ConnectionError("reset by peer"))

    assert get("https://p.example/pb").error == "connection failed: reset by peer"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/pb",
        "http://localhost:9/pb",
        "http://10.1.2.3/pb",
        "http://192.168.0.1/pb",
        "http://172.16.0.1/pb",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9/pb",
        "http://[::ffff:127.0.0.1]:9/pb",
        "http://[fd00::1]/pb",
        "http://2130706433/pb",
        "http://0177.0.0.1/pb",
        "http://0x7f.0.0.1/pb",
    ],
)
def test_private_loopback_link_local_and_metadata_addresses_are_blocked(settings, url):
    settings.OUTBOUND_ALLOW_LOOPBACK = False

    result = get(url)

    assert result.status is None
    assert result.error.startswith("blocked address"), result.error


def test_loopback_is_reachable_only_when_allowed(settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = True

    result = get("http://127.0.0.1:9/pb")

    assert result.error.startswith("connection failed"), result.error


def test_private_addresses_stay_blocked_when_loopback_is_allowed(settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = True

    assert get("http://10.1.2.3/pb").error.startswith("blocked address")
