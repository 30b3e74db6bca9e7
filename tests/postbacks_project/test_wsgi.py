"""The WSGI application gunicorn serves: hostile requests reach the receiver instead of failing in Django."""

import json
from io import BytesIO
from wsgiref.util import setup_testing_defaults

import pytest

from postbacks_project.wsgi import application
from receiver.models import Conversion, ReceivedPostback


def _call(path, query, body, content_type, chunked=False, length=None):
    stream = body if hasattr(body, "read") else BytesIO(body)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": "" if chunked else str(len(body) if length is None else length),
        "wsgi.input": stream,
        "SERVER_NAME": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
    }
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    setup_testing_defaults(environ)
    started = {}
    chunks = application(environ, lambda status, headers, exc_info=None: started.setdefault("status", status))
    return started["status"], b"".join(chunks)


@pytest.mark.django_db(transaction=True)
def test_a_charset_and_too_many_query_parameters_are_stored_and_answered(network):
    query = "&".join(f"f{number}=1" for number in range(1200))

    status, body = _call(
        f"/postback/{network.key}/", query, b"click_id=c1", "application/x-www-form-urlencoded; charset=latin-1"
    )

    assert status.startswith("200"), body
    row = ReceivedPostback.objects.get()
    assert row.outcome == "rejected"
    assert "more than 1000 parameters" in row.message
    assert len(row.query) > 1000 * len("f1=1")


@pytest.mark.django_db(transaction=True)
def test_a_form_with_a_charset_is_still_decoded(network):
    status, _body = _call(
        f"/postback/{network.key}/",
        "src=q",
        "click_id=caf\u00e9".encode(),
        "application/x-www-form-urlencoded; charset=UTF-8",
    )

    assert status.startswith("200")
    row = ReceivedPostback.objects.get()
    assert (row.outcome, row.click_id, row.query) == ("accepted", "caf\u00e9", "src=q")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("charset", ["rot13", "punycode"])
@pytest.mark.parametrize("endpoint", ["postback", "claim"])
def test_a_charset_that_cannot_decode_the_request_is_stored_and_answered_with_the_reason(
    network, offer, endpoint, charset
):
    path = f"/postback/{network.key}/" if endpoint == "postback" else f"/api/offers/{offer.pk}/claim"

    status, body = _call(path, "click_id=caf%C3%A9_1", b"x=1", f"text/plain; charset={charset}")

    assert status.split()[0] in {"200", "401"}, body  # a claim without a token is refused before its body is read
    assert json.loads(body)["success"] is False
    row = ReceivedPostback.objects.get()
    assert row.outcome == "rejected"
    if endpoint == "postback":
        assert (row.reason, row.query) == ("invalid_charset", "click_id=caf%C3%A9_1")
        assert f"the charset '{charset}'" in row.message


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_is_refused_with_411_and_stored(network):
    status, body = _call(
        f"/postback/{network.key}/", "click_id=c1", b"", "application/x-www-form-urlencoded", chunked=True
    )

    assert status.startswith("411"), body
    assert json.loads(body)["reason"] == "length_required"
    row = ReceivedPostback.objects.get()
    assert (row.reason, row.http_status) == ("length_required", 411)
    assert not Conversion.objects.exists()


class StalledInput(BytesIO):
    """A body whose sender stops half-way: the read times out, as gunicorn's socket does."""

    def read(self, *args):
        raise TimeoutError("timed out")


@pytest.mark.django_db(transaction=True)
def test_a_body_that_stops_half_way_is_stored_with_the_reason_and_not_processed(network):
    status, body = _call(f"/postback/{network.key}/", "click_id=c1", StalledInput(), "application/json", length=80)

    assert status.startswith("200"), body
    row = ReceivedPostback.objects.get()
    assert (row.outcome, row.reason) == ("rejected", "incomplete_body")
    assert "could not be read to its end: timed out" in row.message
    assert not Conversion.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_request_that_fails_capture_unforeseen_is_stored_bare_rather_than_lost(network, monkeypatch):
    def broken(request, path_key):
        raise RuntimeError("a bug in capture")

    monkeypatch.setattr("receiver.inbound._capture", broken)

    status, body = _call(f"/postback/{network.key}/", "click_id=c1&payout=1", b"", "")

    assert status.startswith("200"), body
    assert json.loads(body)["reason"] == "unreadable_request"
    row = ReceivedPostback.objects.get()
    assert (row.reason, row.query, row.network) == ("unreadable_request", "click_id=c1&payout=1", network)
    assert network.key not in row.path


@pytest.mark.django_db(transaction=True)
def test_a_body_shorter_than_its_content_length_is_stored_as_incomplete_and_not_processed(network):
    status, body = _call(f"/postback/{network.key}/", "", b"click_id=c1&pay", "", length=100)

    assert status.startswith("200"), body
    row = ReceivedPostback.objects.get()
    assert (row.reason, row.message) == (
        "incomplete_body",
        "the body ended after 15 of the 100 bytes its Content-Length promised",
    )
    assert not Conversion.objects.exists()
