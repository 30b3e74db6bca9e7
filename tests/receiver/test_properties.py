"""Property tests of the receiver: whatever arrives, it is stored once and answered as DESIGN.md's contract says."""

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote, urlencode

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client, override_settings
from django.test.client import encode_multipart
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from receiver.lifecycle import SYNONYMS, Status
from receiver.models import Click, Conversion, Network, Offer, Outcome, ReceivedPostback
from receiver.params import FIELDS

KEY = "fuzz-network-key-0123456789abcdef"
SECRET = "fuzz-hmac-secret"
KNOWN_CLICK = "known-click-1"
BOUNDARY = "fuzzBoundary"
BODY_LIMIT = 2048  # small, so that bodies over the limit are cheap to generate

# Every name we read (aliases included, so that click_id and clickid collide), a mapped one, and the key.
NAMES = sorted({name for names in FIELDS.values() for name in names} | {"key", "subid", "sum"})
ODD_NUMBERS = ["1e9999", "-1e9999", "NaN", "-NaN", "sNaN", "Infinity", "-0", "-0.0", "1,5", "1.5", "+2", " 3 ", "0x10"]
ODD_NUMBERS += ["1_000", "1e-9999", "999999999999.9999999", "1000000000000", "9" * 40, "١٢٣", "½", "1.", ".5", "--1"]
STATUS_WORDS = [word for words in SYNONYMS.values() for word in words] + ["test", "TEST", " Approved ", "2", "-1"]

text = st.text(max_size=20)
# A request's text travels as UTF-8, which has no lone surrogates (st.characters() draws them; st.text() does not).
long_text = st.builds(lambda char, n: char * n, st.characters(codec="utf-8"), st.integers(100, 3000))
numbers = st.one_of(
    st.sampled_from(ODD_NUMBERS),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
    st.integers().map(str),
)
values = st.one_of(text, numbers, st.sampled_from(STATUS_WORDS), long_text, st.just(""))
names = st.one_of(st.sampled_from(NAMES), text)
click_ids = st.one_of(st.just(KNOWN_CLICK), st.text(min_size=1, max_size=20), long_text)
# The pairs of one request: repeated names and colliding aliases are allowed, a click id usually comes first.
pairs = st.builds(
    lambda click, rest: click + rest,
    st.one_of(st.tuples(st.sampled_from(["click_id", "clickid", "subid"]), click_ids).map(lambda p: [p]), st.just([])),
    st.lists(st.tuples(names, values), max_size=6),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text | numbers,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(text, kids, max_size=3),
    max_leaves=8,
)
# Hand-written JSON that a dumps() never produces: escapes PostgreSQL or encoders refuse, depth, constants.
RAW_JSON = [
    b'{"click_id": "a\\u0000b"}',
    b'{"click_id": "c1", "\\ud800": "\\udfff"}',
    b'{"click_id": "c1", "payout": NaN}',
    b'{"click_id": "c1", "payout": -Infinity}',
    b'{"click_id": "c1", "payout": 1e9999}',
    b'{"click_id": "c1", "payout": -0}',
    b'{"click_id": "c1", "payout": 1' + b"0" * 5000 + b"}",
    b'{"click_id": "c1", "x": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    b'{"click_id": "c1", "click_id": "c2", "clickid": "c3"}',
    b'\xef\xbb\xbf{"click_id": "c1"}',
    b'{"click_id": "c1", "status": "approved"}\x00',
    b'{"click_id": "\xff\xfe"}',
]
CONTENT_TYPES = [
    "",
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-16",
    "application/x-www-form-urlencoded; charset=no-such-charset",
    "multipart/form-data",
    f"multipart/form-data; boundary={BOUNDARY}",
    "text/plain",
    "text/plain; charset=utf-8",
    "application/octet-stream",
    "APPLICATION/JSON",
]


@dataclass
class NetworkSpec:
    is_active: bool
    require_known_click: bool
    signed: bool
    allowed_ips: str
    param_mapping: dict
    status_mapping: dict


@dataclass
class Request:
    method: str
    path: str
    body: bytes
    content_type: str
    headers: dict
    key_at: str


mappings = {
    "param_mapping": st.sampled_from([{}, {"click_id": "subid"}, {"payout": "sum"}]),
    "status_mapping": st.sampled_from([{}, {"1": "approved", "2": "pending", "3": "rejected"}]),
}
networks = st.builds(
    NetworkSpec,
    is_active=st.booleans(),
    require_known_click=st.booleans(),
    signed=st.booleans(),
    allowed_ips=st.sampled_from(["", "127.0.0.1", "10.0.0.0/8"]),
    **mappings,
)
# A network that lets every request through to the parser.
open_networks = st.builds(
    NetworkSpec,
    is_active=st.just(True),
    require_known_click=st.just(False),
    signed=st.just(False),
    allowed_ips=st.just(""),
    **mappings,
)


def encode_body(kind, body_pairs, draw):
    """(body bytes, the content type that matches it) for one body kind."""
    if kind == "none":
        return b"", ""
    if kind == "form":
        return urlencode(body_pairs).encode(), "application/x-www-form-urlencoded"
    if kind == "multipart":
        grouped = {}
        for name, value in body_pairs:
            grouped.setdefault(name, []).append(value)
        return encode_multipart(BOUNDARY, grouped), f"multipart/form-data; boundary={BOUNDARY}"
    if kind == "json-object":
        extra = draw(st.dictionaries(names, json_values, max_size=3))
        return json.dumps({**dict(body_pairs), **extra}).encode(), "application/json"
    if kind == "json-other":
        return json.dumps(draw(json_values)).encode(), "application/json"
    if kind == "json-truncated":
        whole = json.dumps(dict(body_pairs)).encode()
        return whole[: draw(st.integers(0, max(len(whole) - 1, 0)))], "application/json"
    if kind == "json-raw":
        return draw(st.sampled_from(RAW_JSON)), "application/json"
    if kind == "over-limit":
        return b"click_id=c1&" + b"x" * BODY_LIMIT, "application/x-www-form-urlencoded"
    return draw(st.binary(max_size=200)), "application/octet-stream"


# Repeats weight the draws: most requests should get past the method and the key, to reach the parser.
ANY_METHOD = ["GET", "POST"] * 3 + ["PUT", "DELETE", "HEAD", "PATCH"]
ANY_KEY_PLACE = ["path", "path", "header", "query", "body", "missing", "wrong", "wrong-header"]


@st.composite
def requests(draw, spec, methods=ANY_METHOD, key_places=ANY_KEY_PLACE):
    """One request: method, where the key goes (or a wrong or missing one), query, body, content type, headers."""
    method = draw(st.sampled_from(methods))
    key_at = draw(st.sampled_from(key_places))
    wrong_key = draw(st.text(min_size=1, max_size=70).filter(lambda k: "/" not in k and k != KEY))
    query_pairs, body_pairs = draw(pairs), draw(pairs)
    kind = draw(st.sampled_from(["none", "form", "multipart", "json-object", "json-other", "json-truncated"]))
    kind = draw(st.sampled_from([kind, kind, "json-raw", "bytes", "over-limit"]))
    if key_at == "query":
        query_pairs = [*query_pairs, ("key", KEY)]
    elif key_at == "body":
        body_pairs = [*body_pairs, ("key", KEY)]
    body, matching_type = encode_body(kind, body_pairs, draw)
    content_type = draw(st.sampled_from([matching_type, matching_type, *CONTENT_TYPES]))
    query = urlencode(query_pairs)
    if draw(st.booleans()):
        query = draw(st.sampled_from([query + "&" + "p=1&" * 1001, query + "&%00=%00", query + "&a=%ff%fe"]))
    if query.count("&") > 1000:
        # Django itself fails on this pair before any view runs: WSGIRequest() sets the charset's encoding, whose
        # setter parses the query to reset it, and TooManyFieldsSent escapes WSGIHandler (the server answers 500).
        content_type = content_type.split(";")[0]

    base = draw(st.sampled_from(["/api/postback/", "/api/postback"]))
    if key_at == "path":
        base = f"/postback/{KEY}/"
    elif key_at == "wrong":
        base = f"/postback/{quote(wrong_key, safe='')}/"
    headers = {"x-postback-key": {"header": KEY, "wrong-header": wrong_key}[key_at]} if "header" in key_at else {}
    if draw(st.booleans()):
        headers["user-agent"] = draw(st.text(st.characters(max_codepoint=255), max_size=30))
    if spec.signed:
        signed = body if body else query.encode()
        signature = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
        headers["x-signature"] = draw(st.sampled_from([signature, signature, "sha256=" + signature, "0" * 64, ""]))
    return Request(method, f"{base}?{query}" if query else base, body, content_type, headers, key_at)


def make_network(spec):
    network = Network.objects.create(
        name="Fuzz network",
        key=KEY,
        is_active=spec.is_active,
        require_known_click=spec.require_known_click,
        hmac_secret=SECRET if spec.signed else "",
        allowed_ips=spec.allowed_ips,
        param_mapping=spec.param_mapping,
        status_mapping=spec.status_mapping,
    )
    offer = Offer.objects.create(network=network, name="Fuzz offer", url="https://fuzz.example/?c={click_id}")
    Click.objects.create(offer=offer, click_id=KNOWN_CLICK)
    return network


def send(request):
    client = Client(headers=request.headers)
    return client.generic(request.method, request.path, request.body, content_type=request.content_type)


STATUS_REASONS = {
    401: {"bad_signature", "unsigned_parameters"},
    403: {"ip_not_allowed"},
    404: {"unknown_key", "missing_key", "inactive_network"},
    405: {"method_not_allowed"},
    413: {"body_too_large"},
    429: {"rate_limited"},
}
SUCCESS_KEYS = {"success", "message", "postbackId", "clickId", "conversionId", "status", "test", "processingTime"}
DUPLICATE_KEYS = {"success", "duplicate", "message", "postbackId", "conversionId"}
REJECTED_KEYS = {"success", "message", "reason", "postbackId"}


def check_one_request(request, spec):
    """Send the request once, check every property of its answer and its stored row, return the row's outcome."""
    rows_before, conversions_before = ReceivedPostback.objects.count(), Conversion.objects.count()

    response = send(request)

    assert response.status_code in {200, *STATUS_REASONS}, response.content[:500]
    assert ReceivedPostback.objects.count() == rows_before + 1
    row = ReceivedPostback.objects.order_by("-id").first()
    assert row.http_status == response.status_code
    event(f"{row.http_status} {row.outcome} {row.reason}")  # --hypothesis-show-statistics: what the inputs reached
    new_conversions = Conversion.objects.count() - conversions_before
    if request.method not in ("GET", "POST"):
        assert (response.status_code, row.reason) == (405, "method_not_allowed")
    elif request.key_at in ("wrong", "wrong-header"):  # the path's key wins over any other, then the header's
        assert (response.status_code, row.reason) == (404, "unknown_key")
    elif request.key_at in ("path", "header") and not spec.is_active:
        assert (response.status_code, row.reason) == (404, "inactive_network")
    if request.method == "HEAD":  # the test client, like a server, drops a HEAD answer's body
        assert response.content == b""
        assert new_conversions == 0
        return row.outcome

    body = response.json()
    assert body["postbackId"] == row.pk
    assert isinstance(body["message"], str)
    assert body["message"]
    if body["success"] is True:
        assert response.status_code == 200
        assert body["conversionId"] == row.conversion_id
        if body.get("duplicate"):
            # A repeat is a duplicate, or a status change the network's policy refuses, which says so.
            keys = DUPLICATE_KEYS | ({"reason"} if row.reason == "status_transition_refused" else set())
            assert (set(body), body["duplicate"], row.outcome) == (keys, True, Outcome.DUPLICATE)
            assert new_conversions == 0
        else:
            assert set(body) == SUCCESS_KEYS
            assert row.outcome in (Outcome.ACCEPTED, Outcome.STATUS_CHANGE)
            assert new_conversions == (1 if row.outcome == Outcome.ACCEPTED else 0)
            assert body["status"] in Status.values
            assert (body["clickId"], body["status"]) == (row.click_id, row.status)
            assert isinstance(body["test"], bool)
            assert re.fullmatch(r"\d+ms", body["processingTime"])
            assert Decimal(row.payout) >= 0
        return row.outcome

    assert body["success"] is False
    assert (row.outcome, row.reason, row.conversion_id, new_conversions) == (Outcome.REJECTED, body["reason"], None, 0)
    assert row.reason
    if response.status_code == 200:
        assert set(body) == {*REJECTED_KEYS, "received_params"}
        assert body["received_params"] == sorted(body["received_params"])
    else:
        assert set(body) == REJECTED_KEYS
        assert body["reason"] in STATUS_REASONS[response.status_code]
    return row.outcome


def check_requests(data, spec, **request_kinds):
    request = data.draw(requests(spec, **request_kinds))
    again = data.draw(st.booleans())
    # One savepoint per example, rolled back: no row of one example counts in the next one.
    with transaction.atomic():
        cache.clear()
        make_network(spec)
        first = check_one_request(request, spec)
        if again:
            second = check_one_request(request, spec)
            if first == Outcome.ACCEPTED:  # sending the same postback again is always safe
                assert second == Outcome.DUPLICATE
        transaction.set_rollback(True)


# The autouse fixtures (eager Celery, fast password hashing) hold for every example alike, and the rate-limit
# cache they clear per test is cleared per example: the function-scoped fixture check does not apply.
# No explain phase: on a failure it replays hundreds of variants for a minute, and the shrunk example says enough.
EXAMPLES = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)


@pytest.mark.django_db
@override_settings(RECEIVER_BODY_LIMIT=BODY_LIMIT)
@settings(EXAMPLES, max_examples=250)
@given(data=st.data(), spec=networks)
def test_any_request_to_any_network_is_stored_once_and_answered_as_the_contract_says(data, spec):
    check_requests(data, spec)


@pytest.mark.django_db
@override_settings(RECEIVER_BODY_LIMIT=BODY_LIMIT)
@settings(EXAMPLES, max_examples=600)
@given(data=st.data(), spec=open_networks)
def test_any_parameters_and_body_with_a_valid_key_are_stored_once_and_answered_as_the_contract_says(data, spec):
    check_requests(data, spec, methods=["GET", "POST"], key_places=["path", "path", "header", "query", "body"])
