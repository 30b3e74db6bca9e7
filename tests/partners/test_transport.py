"""The one HTTP door: what it sends, what it keeps of the answer, and what it refuses to reach."""

from datetime import timedelta
from email.utils import format_datetime

import pytest
import requests
import responses
from django.utils import timezone

from partners import transport
from partners.models import Method, Partner
from partners.outbound import OutboundRequest, build_request
from tests.support.sink import Reply


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

    result = get("https://p.example/pb")

    assert (result.error, result.error_code) == ("p.example:443 closed the connection without an answer", "reset")
    assert result.error_detail == "reset by peer"


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

    assert (result.error, result.error_code) == ("connection refused by 127.0.0.1:9", "refused"), result.error_detail
    assert "Connection refused" in result.error_detail


def test_private_addresses_stay_blocked_when_loopback_is_allowed(settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = True

    assert get("http://10.1.2.3/pb").error.startswith("blocked address")


@responses.activate
def test_an_unknown_charset_is_read_as_utf8():
    responses.get("https://p.example/pb", body="déjà".encode(), content_type="text/plain; charset=x-no-such-charset")

    result = get("https://p.example/pb")

    assert result.ok
    assert result.body == "déjà"


@responses.activate
@pytest.mark.parametrize("header", ["²", "١٢٠", "-5", "1.5", "soon"])
def test_a_retry_after_that_is_neither_ascii_digits_nor_a_date_is_ignored(header):
    responses.get("https://p.example/pb", status=503, headers={"Retry-After": header})

    result = get("https://p.example/pb")

    assert result.error.startswith("HTTP 503")
    assert result.retry_after is None


@responses.activate
def test_a_retry_after_date_without_a_zone_is_read_as_utc():
    # format_datetime writes a naive time with "-0000", the RFC 5322 way of saying "no zone given".
    header = format_datetime(timezone.now().replace(tzinfo=None) + timedelta(seconds=600))
    assert header.endswith("-0000")
    responses.get("https://p.example/pb", status=429, headers={"Retry-After": header})

    assert 590 < get("https://p.example/pb").retry_after <= 600


def test_a_cookie_one_answer_sets_is_not_sent_on_the_next_request(settings, sink):
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    sink.script(Reply(headers=(("Set-Cookie", "sid=from-partner-a; Path=/"),)))

    get(sink.url("/a"))
    get(sink.url("/b"))

    assert [request.headers.get("cookie") for request in sink.received] == [None, None]


def test_a_dot_segment_in_a_path_value_does_not_move_the_request(settings, sink):
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    partner = Partner(postback_url=sink.url("/inj/{custom.p}/x?q={custom.p}"), method=Method.GET)

    transport.send(build_request(partner, {"custom": {"p": ".."}}, "msg_1", 0))

    # requests writes %2E as "." again (an unreserved character, RFC 3986 6.2.2.2), but no longer drops the segment.
    assert sink.paths == ["/inj/../x?q=.."]


@responses.activate
@pytest.mark.parametrize(
    ("raised", "code", "error"),
    [
        (requests.exceptions.SSLError("certificate verify failed"), "tls", "TLS handshake with p.example:443 failed"),
        (requests.ConnectTimeout("no route"), "timeout", "timed out after 10 s"),
        (
            requests.ConnectionError("HTTPSConnectionPool: NameResolutionError: Failed to resolve 'p.example'"),
            "dns",
            "DNS: no address for p.example",
        ),
        (requests.ConnectionError("something else"), "connection", "connection to p.example:443 failed"),
    ],
)
def test_each_failure_is_classified_with_a_line_for_people_and_the_detail_kept(raised, code, error):
    responses.get("https://p.example/pb", body=raised)

    result = get("https://p.example/pb")

    assert (result.error_code, result.error) == (code, error)
    assert result.error_detail == str(raised)


@responses.activate
@pytest.mark.parametrize(("status", "code"), [(404, "http_4xx"), (503, "http_5xx"), (302, "redirect")])
def test_an_error_answer_is_classified_by_its_status(status, code):
    responses.get("https://p.example/pb", status=status, headers={"Location": "https://elsewhere.example/"})

    assert get("https://p.example/pb").error_code == code


@pytest.fixture
def environment(monkeypatch):
    """Set environment variables for a session of the test's own (a session reads the environment once, when it is
    built); the process's session and the proxies it read come back after the test."""
    monkeypatch.setattr(transport, "_proxies", transport._proxies)

    def set_environment(**variables):
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(transport, "_session", None)

    return set_environment


def test_a_request_goes_through_the_proxy_the_environment_names(settings, sink, environment):
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    environment(HTTP_PROXY=sink.url(), NO_PROXY="")

    result = get("http://localhost:9/pb?c=1")

    assert result.ok
    assert sink.paths == ["http://localhost:9/pb?c=1"]


def test_a_host_in_no_proxy_is_reached_directly(settings, sink, environment):
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    environment(HTTP_PROXY="http://127.0.0.1:9", NO_PROXY="127.0.0.1")

    assert get(sink.url("/pb?c=1")).ok
    assert sink.paths == ["/pb?c=1"]


def test_a_login_in_netrc_is_never_sent_to_a_partner(settings, sink, environment, tmp_path):
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login hub password kept-for-another-tool\n")
    (tmp_path / ".netrc").chmod(0o600)
    environment(HOME=str(tmp_path), NETRC=str(tmp_path / ".netrc"))

    get(sink.url("/pb"))

    assert "authorization" not in {name.lower() for name in sink.received[0].headers}


def test_the_ca_bundle_the_environment_names_verifies_partners(environment):
    environment(REQUESTS_CA_BUNDLE="/etc/partners-ca.pem")

    assert transport.session().verify == "/etc/partners-ca.pem"
