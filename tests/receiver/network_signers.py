"""Each known network's postback built the way that network builds it, from its own docs or SDK, never our code.

A signer here mirrors the network's formula (NETWORKS.md and the preset's description): it takes the parameters the
network fills in and returns the request it sends, signature and all. Nothing here imports receiver.signatures, so
a recipe that drifts from what the network does fails the examples instead of agreeing with itself.

EXAMPLES holds one worked example per preset: the approved postback, the reversal in that network's own style, the
amount a replay changes, and what each must leave behind (the conversion's fields, the user's points, the answers
the network checks).
"""

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote_plus, unquote_plus, urlencode

SECRET = "network-given-secret-0123"
BASE = "http://127.0.0.1:8000"  # PUBLIC_BASE_URL in the tests: what a URL signature covers before the path
JSON_ACK = None  # the network reads our JSON contract (success true), not a body of its own


@dataclass(frozen=True)
class Sent:
    """One request as the network sends it: path and query, headers, and for a POST its body."""

    url: str
    headers: dict = field(default_factory=dict)
    method: str = "GET"
    body: bytes = b""
    content_type: str = ""


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def hmac_of(secret, text, algorithm, encoding="hex"):
    return encoded(hmac.new(secret.encode(), text.encode(), algorithm).digest(), encoding)


def encoded(digest, encoding="hex"):
    """A digest as networks write it: hex, base64, or base64url without its padding."""
    if encoding == "hex":
        return digest.hex()
    if encoding == "base64":
        return base64.b64encode(digest).decode()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def php_urlencode(text):
    """PHP's urlencode() (what http_build_query uses): every byte but letters, digits and -_. escaped, space as +.

    Unlike Python's quote_plus it escapes ~ (%7E), as RFC 1738 says.
    """
    safe = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
    return "".join(
        chr(byte) if byte in safe else "+" if byte == 0x20 else f"%{byte:02X}" for byte in str(text).encode()
    )


def appended(path, params, name, signature):
    """The URL with the network's parameters and, last, its signature parameter, as offerwalls build it."""
    return f"{path}?{urlencode({**params, name: signature})}"


def url_signer(name, algorithm, encoding="hex"):
    """A network that signs the whole URL it calls (BitLabs, Notik, TheoremReach, AdGem GET): the HMAC of
    scheme, host, path and query as sent, then appended as the last parameter."""

    def sign(path, params, secret):
        unsigned = f"{path}?{urlencode(params)}"
        return Sent(f"{unsigned}&{name}={quote_plus(hmac_of(secret, BASE + unsigned, algorithm, encoding))}")

    return sign


def cpx(path, params, secret):
    # CPX Research: hash = md5("{trans_id}-{secret}").
    return Sent(appended(path, params, "hash", md5(f"{params['trans_id']}-{secret}")))


def ayetstudios(path, params, secret):
    # ayeT-Studios' PHP: ksort($params); hash_hmac('sha256', http_build_query($params), $apiKey) in a header.
    signed = "&".join(f"{php_urlencode(k)}={php_urlencode(v)}" for k, v in sorted(params.items()))
    return Sent(f"{path}?{urlencode(params)}", {"X-Ayetstudios-Security-Hash": hmac_of(secret, signed, hashlib.sha256)})


def lootably(path, params, secret):
    # Lootably's npm package: sha256(userID + ip + revenue + currencyReward + secret).
    text = f"{params['userID']}{params['ip']}{params['revenue']}{params['currencyReward']}{secret}"
    return Sent(appended(path, params, "hash", sha256(text)))


def tapjoy(path, params, secret):
    # Tapjoy: verifier = md5("{id}:{snuid}:{currency}:{secret}").
    text = f"{params['id']}:{params['snuid']}:{params['currency']}:{secret}"
    return Sent(appended(path, params, "verifier", md5(text)))


def torox(path, params, secret):
    # Torox (OfferToro): sig = md5("{oid}-{user_id}-{secret}").
    return Sent(appended(path, params, "sig", md5(f"{params['oid']}-{params['user_id']}-{secret}")))


POLLFISH_PLACEHOLDERS = (
    "click_id",
    "cpa",
    "device_id",
    "request_uuid",
    "reward_name",
    "reward_value",
    "status",
    "term_reason",
    "timestamp",
    "tx_id",
)


def pollfish(path, params, secret):
    # Pollfish s2s.md 7.3-7.4: the values of the placeholders in the URL template, sorted by placeholder name, joined
    # by ":" (request_uuid left out when empty), base64 of the raw HMAC-SHA1; debug and other parameters unsigned.
    values = [
        params[name]
        for name in sorted(POLLFISH_PLACEHOLDERS)
        if name in params and (name != "request_uuid" or params[name])
    ]
    return Sent(appended(path, params, "signature", hmac_of(secret, ":".join(values), hashlib.sha1, "base64")))


def kiwiwall(path, params, secret):
    # Kiwiwall: signature = md5("{sub_id}:{amount}:{secret}").
    return Sent(appended(path, params, "signature", md5(f"{params['sub_id']}:{params['amount']}:{secret}")))


def wannads(path, params, secret):
    # Wannads: signature = md5(subId + transId + reward + secret).
    text = f"{params['subId']}{params['transId']}{params['reward']}{secret}"
    return Sent(appended(path, params, "signature", md5(text)))


def fyber(path, params, secret):
    # Fyber / Digital Turbine (third-party code): sid = sha1(security_token + uid + amount + _trans_id_).
    return Sent(appended(path, params, "sid", sha1(f"{secret}{params['uid']}{params['amount']}{params['_trans_id_']}")))


def ironsource(path, params, secret):
    # ironSource (unverified, from memory): signature = md5(timestamp + eventId + userId + rewards + secret).
    text = f"{params['timestamp']}{params['eventId']}{params['userId']}{params['rewards']}{secret}"
    return Sent(appended(path, params, "signature", md5(text)))


def token(name):
    """A tracker whose secret travels as it is, a static token in a parameter (Affise secure, Scaleo token)."""

    def sign(path, params, secret):
        return Sent(f"{path}?{urlencode({**params, name: secret})}")

    return sign


def unsigned(path, params, secret):
    return Sent(f"{path}?{urlencode(params)}")


def json_post(path, params, secret):
    """An unsigned POST with a JSON body (Impact's JSON postback)."""
    body = json.dumps(params).encode()
    return Sent(path, method="POST", body=body, content_type="application/json")


# ---- editing a request as it travels: the same text with one part changed --------------------------------------


def _split(url):
    path, _, query = url.partition("?")
    return path, query.split("&") if query else []


def param(url, name):
    """The decoded value of parameter `name` in the URL, or None."""
    for part in _split(url)[1]:
        key, _, value = part.partition("=")
        if unquote_plus(key) == name:
            return unquote_plus(value)
    return None


def with_param(url, name, value):
    """The URL with parameter `name`'s value replaced, every other byte kept as it was (a signature over the URL
    must see only that change)."""
    path, parts = _split(url)
    changed = [f"{name}={quote_plus(value)}" if unquote_plus(p.partition("=")[0]) == name else p for p in parts]
    assert changed != parts, f"{name} is not in {url}"
    return f"{path}?{'&'.join(changed)}"


def without_param(url, name):
    path, parts = _split(url)
    kept = [p for p in parts if unquote_plus(p.partition("=")[0]) != name]
    assert kept != parts, f"{name} is not in {url}"
    return f"{path}?{'&'.join(kept)}"


def tampered(value):
    """The signature with one character changed (to another character that no case-insensitive compare equates)."""
    first = "b" if value[0].lower() == "a" else "a"
    return first + value[1:]


# ---- one worked example per preset ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """A preset's postbacks as its network sends them, and what the receiver must make of them."""

    sign: Callable  # (path, params, secret) -> Sent
    approved: dict  # the network's parameters of one approved conversion, in the order it sends them
    conversion: dict  # the Conversion's fields it must make
    points: int  # what the user is credited
    reversal: dict  # the network's parameters of its reversal of that conversion, in its own style
    reversed_to: str = "reversed"  # the status the reversal leaves (a tracker's rejected status: rejected)
    # Where the signature travels ("query", name) or ("header", name); None for a network that does not sign.
    signature_in: tuple | None = None
    # (parameter, another value) that a replay of the signed request changes, and what that replay is: refused as
    # bad_signature when the signature covers the amount, a duplicate (unsigned_payout_change) when it does not, an
    # adjustment when the network sends its secret as a token (whoever holds the token vouches for every parameter).
    replay: tuple | None = None
    replay_answer: str = "bad_signature"
    acks: dict = field(default_factory=dict)  # outcome -> the body the network checks (JSON_ACK: our JSON)
    refused_status: int = 401  # how a bad signature is answered (Tapjoy reads 403 as "stop retrying")
    remote_addr: str = "127.0.0.1"
    our_click: bool = False  # the click id is one of our clicks (trackers): the user comes from it
    test_flag: str = ""  # the parameter that marks the network's test postbacks

    @property
    def signed(self):
        return self.signature_in is not None

    def ack(self, outcome):
        return self.acks.get(outcome, JSON_ACK)


def _usd(click_id, payout, user_id="u1", currency_amount=None, currency="USD"):
    return {
        "click_id": click_id,
        "payout": payout,
        "currency": currency,
        "user_id": user_id,
        "currency_amount": currency_amount,
        "is_test": False,
    }


def answered(body):
    """A network that checks one body for a new conversion, a status change and a duplicate."""
    return dict.fromkeys(("accepted", "status_change", "duplicate"), body)


ONE = answered(b"1")
OK_DUP = {"accepted": b"OK", "status_change": b"OK", "duplicate": b"DUP"}

EXAMPLES = {
    "cpx-research": Example(
        sign=cpx,
        approved={
            "status": "1",
            "trans_id": "cpx-1",
            "user_id": "u1",
            "subid_1": "s1",
            "subid_2": "s2",
            "amount_local": "50",
            "amount_usd": "0.50",
            "type": "complete",
            "ip_click": "203.0.113.5",
        },
        conversion=_usd("cpx-1", "0.50", currency_amount="50") | {"sub1": "s1", "sub2": "s2"},
        points=50,
        reversal={
            "status": "2",
            "trans_id": "cpx-1",
            "user_id": "u1",
            "subid_1": "s1",
            "subid_2": "s2",
            "amount_local": "50",
            "amount_usd": "0.50",
            "type": "complete",
            "ip_click": "203.0.113.5",
        },
        signature_in=("query", "hash"),
        replay=("amount_usd", "5.00"),
        replay_answer="unsigned_payout_change",  # md5 of {trans_id}-{secret}: the amount is not signed
    ),
    "bitlabs": Example(
        sign=url_signer("hash", hashlib.sha1),
        approved={"uid": "u1", "tx": "bl-1", "val": "120", "raw": "0.60", "type": "COMPLETE"},
        conversion=_usd("bl-1", "0.60", currency_amount="120"),
        points=60,
        # A reconciliation: a transaction of its own, negative amounts, ref naming the original's tx.
        reversal={"uid": "u1", "tx": "bl-2", "val": "-120", "raw": "-0.60", "type": "RECONCILIATION", "ref": "bl-1"},
        signature_in=("query", "hash"),
        replay=("raw", "6.00"),
    ),
    "ayetstudios": Example(
        sign=ayetstudios,
        approved={
            "transaction_id": "ay-1",
            "external_identifier": "u1",
            "currency_amount": "40",
            "payout_usd": "0.40",
            "offer_name": "Coin Rush",
        },
        conversion=_usd("ay-1", "0.40", currency_amount="40"),
        points=40,
        reversal={
            "transaction_id": "r-ay-1",
            "external_identifier": "u1",
            "currency_amount": "-40",
            "payout_usd": "0.40",
            "offer_name": "Coin Rush",
            "is_chargeback": "1",
            "chargeback_reason": "fraud",
            "chargeback_date": "2026-01-02",
        },
        signature_in=("header", "X-Ayetstudios-Security-Hash"),
        replay=("payout_usd", "4.00"),
    ),
    "lootably": Example(
        sign=lootably,
        approved={
            "userID": "u1",
            "transactionID": "lt-1",
            "ip": "203.0.113.9",
            "offerID": "o1",
            "goalID": "g1",
            "revenue": "0.80",
            "currencyReward": "80",
            "status": "1",
        },
        conversion=_usd("lt-1", "0.80", currency_amount="80"),
        points=80,
        reversal={
            "userID": "u1",
            "transactionID": "lt-1",
            "ip": "203.0.113.9",
            "offerID": "o1",
            "goalID": "g1",
            "revenue": "0.80",
            "currencyReward": "80",
            "status": "0",
        },
        signature_in=("query", "hash"),
        replay=("revenue", "8.00"),
    ),
    "adgate": Example(
        sign=unsigned,
        approved={
            "s1": "u1",
            "points": "25",
            "payout": "0.25",
            "conversion_id": "ag-1",
            "state": "approved",
            "event_id": "e1",
        },
        conversion=_usd("ag-1", "0.25", currency_amount="25"),
        points=25,
        reversal={
            "s1": "u1",
            "points": "25",
            "payout": "0.25",
            "conversion_id": "ag-1",
            "state": "rejected",
            "event_id": "e1",
        },
        reversed_to="rejected",
        remote_addr="52.42.57.125",
    ),
    "tapjoy": Example(
        sign=tapjoy,
        approved={"snuid": "u1", "currency": "100", "mac_address": "", "id": "tj-1"},
        conversion=_usd("tj-1", "0", currency_amount="100"),
        points=100,
        reversal={"snuid": "u1", "currency": "-100", "mac_address": "", "id": "tj-1"},
        signature_in=("query", "verifier"),
        replay=("currency", "1000"),
        acks={"rejected": b"refused", "bad_signature": b"bad signature"},
        refused_status=403,
    ),
    "torox": Example(
        sign=torox,
        approved={
            "id": "tx-1",
            "oid": "55",
            "amount": "100",
            "currency_name": "Coins",
            "user_id": "u1",
            "payout": "0.70",
            "o_name": "Coin Rush",
            "ip_address": "203.0.113.7",
        },
        conversion=_usd("tx-1", "0.70", currency_amount="100"),
        points=70,
        reversal={
            "id": "tx-1",
            "oid": "55",
            "amount": "-100",
            "currency_name": "Coins",
            "user_id": "u1",
            "payout": "-0.70",
            "o_name": "Coin Rush",
            "ip_address": "203.0.113.7",
        },
        signature_in=("query", "sig"),
        replay=("payout", "7.00"),
        replay_answer="unsigned_payout_change",  # md5 of {oid}-{user_id}-{secret}
        acks=ONE,
    ),
    "adgem": Example(
        sign=url_signer("verifier", hashlib.sha256),
        approved={
            "player_id": "u1",
            "amount": "50",
            "payout": "0.50",
            "transaction_id": "agm-1",
            "campaign_id": "77",
            "goal_name": "install",
        },
        conversion=_usd("agm-1", "0.50", currency_amount="50"),
        points=50,
        reversal={
            "player_id": "u1",
            "amount": "-50",
            "payout": "-0.50",
            "transaction_id": "agm-1",
            "campaign_id": "77",
            "goal_name": "install",
        },
        signature_in=("query", "verifier"),
        replay=("payout", "5.00"),
    ),
    "notik": Example(
        sign=url_signer("hash", hashlib.sha1),
        approved={
            "user_id": "u1",
            "amount": "100",
            "payout": "0.30",
            "txn_id": "nk-1",
            "offer_id": "9",
            "event_name": "install",
        },
        conversion=_usd("nk-1", "0.30", currency_amount="100"),
        points=30,
        reversal={
            "user_id": "u1",
            "amount": "-100",
            "payout": "-0.30",
            "txn_id": "nk-1",
            "offer_id": "9",
            "event_name": "install",
        },
        signature_in=("query", "hash"),
        replay=("payout", "3.00"),
        acks=answered(b"OK"),
    ),
    "theoremreach": Example(
        sign=url_signer("hash", hashlib.sha1, "base64url"),
        approved={"user_id": "u1", "reward": "50", "tx_id": "tr-1"},
        conversion=_usd("tr-1", "50"),
        points=5000,
        reversal={"user_id": "u1", "reward": "50", "tx_id": "tr-1", "reversal": "true"},
        signature_in=("query", "hash"),
        replay=("reward", "500"),
        test_flag="debug",
    ),
    "pollfish": Example(
        sign=pollfish,
        approved={
            "cpa": "150",
            "device_id": "u1",
            "request_uuid": "rq-1",
            "reward_name": "Coins",
            "reward_value": "300",
            "status": "eligible",
            "timestamp": "1767225600",
            "tx_id": "pf-1",
        },
        conversion=_usd("pf-1", "1.50", currency_amount="300"),  # cpa is in cents
        points=150,
        reversal={
            "cpa": "-150",
            "device_id": "u1",
            "request_uuid": "rq-1",
            "reward_name": "Coins",
            "reward_value": "300",
            "status": "eligible",
            "timestamp": "1767225600",
            "tx_id": "pf-1",
        },
        signature_in=("query", "signature"),
        replay=("cpa", "1500"),
        test_flag="debug",
    ),
    "kiwiwall": Example(
        sign=kiwiwall,
        approved={
            "status": "1",
            "trans_id": "kw-1",
            "sub_id": "u1",
            "sub_id_2": "s2",
            "gross": "0.90",
            "amount": "90",
            "offer_id": "7",
            "ip_address": "203.0.113.8",
        },
        conversion=_usd("kw-1", "0.90", currency_amount="90") | {"sub2": "s2"},
        points=90,
        reversal={
            "status": "2",
            "trans_id": "kw-1",
            "sub_id": "u1",
            "sub_id_2": "s2",
            "gross": "0.90",
            "amount": "-90",
            "offer_id": "7",
            "ip_address": "203.0.113.8",
        },
        signature_in=("query", "signature"),
        replay=("gross", "9.00"),
        replay_answer="unsigned_payout_change",  # md5 of {sub_id}:{amount}:{secret}: gross is not signed
        acks=ONE,
    ),
    "wannads": Example(
        sign=wannads,
        approved={
            "subId": "u1",
            "transId": "wn-1",
            "reward": "40",
            "payout": "0.40",
            "status": "1",
            "userIp": "203.0.113.4",
            "uuid": "wn-uuid-1",
        },
        conversion=_usd("wn-1", "0.40", currency_amount="40"),
        points=40,
        # A new transId, the original's uuid, absolute amounts.
        reversal={
            "subId": "u1",
            "transId": "wn-2",
            "reward": "40",
            "payout": "0.40",
            "status": "2",
            "userIp": "203.0.113.4",
            "uuid": "wn-uuid-1",
        },
        signature_in=("query", "signature"),
        replay=("payout", "4.00"),
        replay_answer="unsigned_payout_change",  # md5 of {subId}{transId}{reward}{secret}: the USD payout is not signed
        acks=OK_DUP,
    ),
    "fyber": Example(
        sign=fyber,
        approved={"uid": "u1", "amount": "100", "currency_name": "Coins", "currency_id": "coins", "_trans_id_": "fy-1"},
        conversion=_usd("fy-1", "0", currency_amount="100"),
        points=100,
        reversal={
            "uid": "u1",
            "amount": "-100",
            "currency_name": "Coins",
            "currency_id": "coins",
            "_trans_id_": "fy-1",
        },
        signature_in=("query", "sid"),
        replay=("amount", "1000"),
    ),
    "ironsource": Example(
        sign=ironsource,
        approved={"userId": "u1", "rewards": "100", "eventId": "is-1", "timestamp": "202601011200"},
        conversion=_usd("is-1", "0", currency_amount="100"),
        points=100,
        reversal={"userId": "u1", "rewards": "-100", "eventId": "is-1", "timestamp": "202601021200"},
        signature_in=("query", "signature"),
        replay=("rewards", "1000"),
        acks=answered(b"is-1:OK"),
    ),
    "everflow": Example(
        sign=unsigned,
        approved={"nid": "12", "transaction_id": "ef-click-1", "amount": "12,34", "adv1": "a1"},
        conversion=_usd("ef-click-1", "12.34") | {"sub1": "a1"},
        points=1234,
        reversal={"nid": "12", "transaction_id": "ef-click-1", "amount": "-12,34", "adv1": "a1"},
        our_click=True,
    ),
    "tune": Example(
        sign=unsigned,
        approved={"transaction_id": "tn-click-1", "amount": "2"},
        conversion=_usd("tn-click-1", "2"),
        points=200,
        reversal={"transaction_id": "tn-click-1", "amount": "-2"},
        acks=answered(b"success=true;"),
        our_click=True,
    ),
    "cake": Example(
        sign=unsigned,
        approved={"s2": "x2", "tid": "ck-click-1", "price": "3.00", "leadid": "lead-1", "status": "approved"},
        conversion=_usd("ck-click-1", "3.00") | {"sub2": "x2"},
        points=300,
        reversal={"s2": "x2", "tid": "ck-click-1", "price": "3.00", "leadid": "lead-1", "status": "scrubbed"},
        reversed_to="rejected",
        our_click=True,
    ),
    "affise": Example(
        sign=token("secure"),
        approved={"clickid": "af-click-1", "action_id": "af-1", "goal": "1", "sum": "1.5", "status": "1"},
        conversion=_usd("af-click-1", "1.5"),
        points=150,
        reversal={"clickid": "af-click-1", "action_id": "af-1", "goal": "1", "sum": "1.5", "status": "3"},
        reversed_to="rejected",
        signature_in=("query", "secure"),
        replay=("sum", "15"),
        replay_answer="adjustment",
        our_click=True,
    ),
    "scaleo": Example(
        sign=token("token"),
        approved={"click_id": "sc-click-1", "conv_status": "approved", "payout": "1.00"},
        conversion=_usd("sc-click-1", "1.00"),
        points=100,
        reversal={"click_id": "sc-click-1", "conv_status": "rejected", "payout": "1.00"},
        reversed_to="rejected",
        signature_in=("query", "token"),
        replay=("payout", "10.00"),
        replay_answer="adjustment",
        our_click=True,
    ),
    "keitaro": Example(
        sign=unsigned,
        approved={"subid": "kt-click-1", "tid": "kt-1", "payout": "2.50", "status": "sale", "currency": "USD"},
        conversion=_usd("kt-click-1", "2.50"),
        points=250,
        reversal={"subid": "kt-click-1", "tid": "kt-1", "payout": "2.50", "status": "rejected", "currency": "USD"},
        reversed_to="rejected",
        our_click=True,
    ),
    "binom": Example(
        sign=unsigned,
        approved={"cnv_id": "bn-click-1", "payout": "1.20", "cnv_status": "approved", "cnv_currency": "USD"},
        conversion=_usd("bn-click-1", "1.20"),
        points=120,
        reversal={"cnv_id": "bn-click-1", "payout": "1.20", "cnv_status": "rejected", "cnv_currency": "USD"},
        reversed_to="rejected",
        our_click=True,
    ),
    "voluum": Example(
        sign=unsigned,
        approved={"cid": "vl-click-1", "payout": "2.00", "txid": "vl-1", "et": "lead"},
        conversion=_usd("vl-click-1", "2.00") | {"conversion_type": "lead"},
        points=200,
        reversal={"cid": "vl-click-1", "payout": "-2.00", "txid": "vl-1", "et": "lead"},
        our_click=True,
    ),
    "redtrack": Example(
        sign=unsigned,
        approved={"clickid": "rt-click-1", "sum": "1.10", "type": "conversion", "status": "approved"},
        conversion=_usd("rt-click-1", "1.10"),
        points=110,
        reversal={"clickid": "rt-click-1", "sum": "1.10", "type": "conversion", "status": "rejected"},
        reversed_to="rejected",
        our_click=True,
    ),
    "trackier": Example(
        sign=unsigned,
        approved={
            "click_id": "tk-click-1",
            "txn_id": "tk-1",
            "sale_amount": "20.00",
            "revenue": "2.00",
            "currency": "USD",
            "status": "approved",
        },
        conversion=_usd("tk-click-1", "2.00"),
        points=200,
        reversal={
            "click_id": "tk-click-1",
            "txn_id": "tk-1",
            "sale_amount": "20.00",
            "revenue": "2.00",
            "currency": "USD",
            "status": "cancelled",
        },
        reversed_to="rejected",
        our_click=True,
    ),
    "impact": Example(
        sign=json_post,
        approved={"ActionId": "im-click-1", "Payout": "4.00", "DeltaPayout": "4.00", "Status": "approved"},
        conversion=_usd("im-click-1", "4.00"),
        points=400,
        reversal={"ActionId": "im-click-1", "Payout": "4.00", "DeltaPayout": "-4.00", "Status": "reversed"},
        our_click=True,
    ),
    "peerclick": Example(
        sign=unsigned,
        approved={"cid": "pc-click-1", "payout": "0.60", "status": "approved", "txid": "pc-1", "currency": "USD"},
        conversion=_usd("pc-click-1", "0.60"),
        points=60,
        reversal={"cid": "pc-click-1", "payout": "0.60", "status": "rejected", "txid": "pc-1", "currency": "USD"},
        reversed_to="rejected",
        our_click=True,
    ),
    "appsflyer": Example(
        sign=unsigned,
        approved={"click_id": "af-click-9", "payout": "1.00", "event_name": "install"},
        conversion=_usd("af-click-9", "1.00"),
        points=100,
        reversal={"click_id": "af-click-9", "payout": "-1.00", "event_name": "install"},
        remote_addr="45.92.116.10",
        our_click=True,
    ),
}
