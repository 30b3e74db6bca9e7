"""Turn a postback's raw parameters into our fields: aliases, a network's mapping, validation."""

import ipaddress
import json
import re
from decimal import Decimal, InvalidOperation

from . import reversals
from .inbound import storable
from .lifecycle import Status, UnknownStatus, normalise_status

# Passthrough values (sub_id.., pub0..) a network maps onto ours; partners get them as {sub1}..{sub5}.
SUBS = tuple(f"sub{i}" for i in range(1, 6))
# Our field -> the names networks commonly use for it (the first is ours).
FIELDS = {
    "click_id": ("click_id", "clickid"),
    "conversion_id": ("conversion_id", "conversionid"),
    "transaction_id": ("transaction_id", "txid"),
    "offer_id": ("offer_id", "offerid"),
    "publisher_id": ("publisher_id", "publisherid"),
    "advertiser_id": ("advertiser_id", "advertiserid"),
    "conversion_type": ("conversion_type", "conversiontype"),
    "goal": ("goal", "goal_value", "goal_id"),
    "ip": ("ip", "ip_address"),
    "user_agent": ("user_agent", "useragent"),
    "user_id": ("user_id", "userid"),
    "payout": ("payout",),
    "currency": ("currency",),
    "currency_amount": ("currency_amount",),
    "status": ("status",),
    **{name: (name,) for name in SUBS},
}
# Read as numbers, not as text.
AMOUNTS = ("payout", "currency_amount")
# Parameters that carry credentials, never data.
RESERVED = {"key"}
ID_MAX_LENGTH = 200
# Parameters are flat; a little nesting is kept as custom data, a deep one is an attack or a bug on their side.
JSON_MAX_DEPTH = 16
PAYOUT_MAX = Decimal("999999999999")


# ASCII digits only: Decimal() also reads Arabic-Indic and fullwidth digits and "1_000", which no network means.
DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
PK_MAX_DIGITS = 18  # a 64-bit id; a longer number would overflow the database's integer


def is_currency_code(text):
    """Three ASCII capital letters, such as EUR."""
    return len(text) == 3 and text.isascii() and text.isalpha() and text.isupper()


def as_pk(text):
    """The row id written in `text` (ASCII digits only: "²".isdigit() is true), else None."""
    text = str(text)
    return int(text) if text.isascii() and text.isdigit() and len(text) <= PK_MAX_DIGITS else None


class InvalidInput(ValueError):
    def __init__(self, message, reason="invalid_input"):
        super().__init__(message)
        self.reason = reason


def raw_params(inbound):
    """Merge the query string with a form or JSON body (the body wins on a clash)."""
    params = {name: inbound.query.get(name) for name in inbound.query}
    if inbound.problem:
        raise InvalidInput(inbound.problem[1], inbound.problem[0])
    if inbound.query_error:
        raise InvalidInput(inbound.query_error, "invalid_query")
    if inbound.form_error:
        raise InvalidInput(inbound.form_error, "invalid_form")
    if inbound.form is not None:
        params.update({name: inbound.form.get(name) for name in inbound.form})
        return params
    body = inbound.body
    mime = inbound.content_type.lower()
    if body and (mime == "application/json" or (not mime and body.lstrip()[:1] == b"{")):
        try:
            # NaN and Infinity (which Python's parser accepts) as Decimal: refused as a payout, kept as text elsewhere.
            data = json.loads(body, parse_float=Decimal, parse_constant=Decimal)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidInput("the body is not valid JSON", "invalid_json") from None
        if not isinstance(data, dict):
            raise InvalidInput("a JSON body must be an object of parameters", "invalid_json")
        params.update(_storable_json(data))
    return params


def _storable_json(data):
    """The parsed body with every string storable, or InvalidInput when it nests deeper than JSON_MAX_DEPTH."""

    def clean(value, depth):
        if depth > JSON_MAX_DEPTH:
            raise InvalidInput(f"the JSON body nests deeper than {JSON_MAX_DEPTH} levels", "invalid_json")
        if isinstance(value, str):
            return storable(value)
        if isinstance(value, dict):
            return {storable(k): clean(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v, depth + 1) for v in value]
        return value

    return clean(data, 0)


def _text(value):
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        # A JSON body's fractions are Decimals (never floats), which json.dumps cannot write as numbers.
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value).strip()


def _pick(params, field, mapping):
    """(name, value) of our `field`: the network's own name for it first, then ours, unless the network's
    mapping consumed that name for another field (Everflow's `transaction_id` is its click id, not ours)."""
    consumed = {name for other, name in mapping.items() if other != field}
    names = ([mapping[field]] if field in mapping else []) + [n for n in FIELDS[field] if n not in consumed]
    for name in names:
        if name in params:
            return name, params[name]
    return None, None


def _scalar(name, value):
    """A field's value must be one text or number: a JSON true, list or object names no click or payout."""
    if isinstance(value, (bool, dict, list)):
        kind = "true or false" if isinstance(value, bool) else ("a list" if isinstance(value, list) else "an object")
        raise InvalidInput(f"{name} must be a single text or number, not {kind}", "invalid_input")
    return value


def click_id_of(params, param_mapping=None):
    """The click id as sent, for logging a request we reject before normalising it."""
    _name, value = _pick(params or {}, "click_id", param_mapping or {})
    return _text(value)[:ID_MAX_LENGTH]


def parse_payout(raw, decimal_comma=False, scale=None, signed=False, name="payout"):
    """The payout as a Decimal of six places; `decimal_comma` reads 12,34 as 12.34, `scale` multiplies (0.01: cents).

    `signed` accepts a negative amount: a network's chargeback, kept as sent.
    """
    text = _text(raw)
    if text == "":
        return Decimal("0")
    if decimal_comma and text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        if not DECIMAL.fullmatch(text):
            raise InvalidOperation
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"{name} {text[:40]!r} is not a decimal number such as 1.50", "invalid_payout") from None
    low = -PAYOUT_MAX if signed else 0
    if not value.is_finite() or value < low or value > PAYOUT_MAX:
        raise InvalidInput(f"{name} {text!r} must be a number from {low} to {PAYOUT_MAX}", "invalid_payout")
    if scale is not None:
        value *= scale
    return value.quantize(Decimal("0.000001"))


def normalise(params, param_mapping=None, status_mapping=None, network=None):
    """Return our fields plus custom_data (every parameter we did not use), or raise InvalidInput.

    A `network` brings its payout settings: a scale (cents), decimal commas and a default currency.
    """
    mapping = param_mapping or {}
    fields, used = {}, set(RESERVED)
    for field in FIELDS:
        name, value = _pick(params, field, mapping)
        if name is not None:
            used.add(name)
        fields[field] = _scalar(name, value)
    out = {name: _text(fields[name]) for name in FIELDS if name not in (*AMOUNTS, "status")}
    out["custom_data"] = {name: value for name, value in params.items() if name not in used}

    if not out["click_id"]:
        raise InvalidInput("click_id is required (also accepted as clickid)", "missing_click_id")
    # Every id column holds 200 characters; PostgreSQL refuses a longer one (SQLite would store it).
    for name in ("click_id", "conversion_id", "transaction_id", "offer_id", "user_id", "publisher_id", "advertiser_id"):
        if len(out[name]) > ID_MAX_LENGTH:
            raise InvalidInput(f"{name} is longer than {ID_MAX_LENGTH} characters", "invalid_input")
    for name in SUBS:
        out[name] = out[name][:ID_MAX_LENGTH]
    comma = network is not None and network.decimal_comma
    out["payout"] = parse_payout(
        fields["payout"],
        decimal_comma=comma,
        scale=network.payout_scale if network is not None and network.payout_scale != 1 else None,
        signed=True,
    )
    amount = fields["currency_amount"]
    out["currency_amount"] = (
        None if _text(amount) == "" else parse_payout(amount, comma, signed=True, name="currency_amount")
    )
    try:
        out["status"], out["is_test"] = normalise_status(_text(fields["status"]), status_mapping)
    except UnknownStatus as exc:
        raise InvalidInput(str(exc), "invalid_status") from None
    _reversal(out, params, network)
    currency = out["currency"].upper() or (network.default_currency if network is not None else "")
    if currency and not (len(currency) == 3 and currency.isalpha()):
        raise InvalidInput(f"currency {out['currency']!r} is not a three-letter code such as USD", "invalid_currency")
    out["currency"] = currency
    out["user_agent"] = out["user_agent"][:300]
    out["conversion_type"] = out["conversion_type"][:50]
    out["goal"] = out["goal"][:100]
    if out["ip"]:
        try:
            ipaddress.ip_address(out["ip"])
        except ValueError:
            out["custom_data"]["ip"] = out["ip"]
            out["ip"] = ""
    return out


def _reversal(out, params, network):
    """Mark a reversal (a status that maps to reversed, the rule's flag, a negative amount), the id it names its
    original by, the reference a new conversion keeps for later reversals, and the network's test flag."""
    rule = network.reversal_rule if network is not None else {}
    negative = out["payout"] < 0 or (out["currency_amount"] is not None and out["currency_amount"] < 0)
    out["reversal"] = out["status"] == Status.REVERSED or negative or reversals.flagged(rule, params)
    if out["reversal"] and out["status"] != Status.REJECTED:
        out["status"] = Status.REVERSED
    out["original"] = reversals.names_original(rule, params) if out["reversal"] else ""
    out["reference"] = "" if out["reversal"] else reversals.reference(rule, params)
    if network is not None and network.test_flag and reversals.is_true(params.get(network.test_flag, "")):
        out["is_test"] = True


CLAIM_FIELDS = ("click_id", "user_id", "payout", "goal", "conversion_type")
CLAIM_LIMITS = {"click_id": ID_MAX_LENGTH, "user_id": ID_MAX_LENGTH, "goal": 100, "conversion_type": 50}
DEFAULT_CONVERSION_TYPE = "install"


def normalise_claim(params):
    """A claim's fields (payout None when not sent: the offer's applies), or raise InvalidInput."""
    values = {field: _pick(params, field, {}) for field in CLAIM_FIELDS}
    for name, value in values.values():
        _scalar(name, value)
    out = {field: _text(value) for field, (_name, value) in values.items() if field != "payout"}
    if not out["click_id"]:
        raise InvalidInput(
            "click_id is required (also accepted as clickid): the network's click id from its tracking link",
            "missing_click_id",
        )
    if not out["user_id"]:
        raise InvalidInput("user_id is required: the user whose points the claim credits", "missing_user_id")
    for name, limit in CLAIM_LIMITS.items():
        if len(out[name]) > limit:
            raise InvalidInput(f"{name} is longer than {limit} characters", "invalid_input")
    _name, payout = values["payout"]
    out["payout"] = None if _text(payout) == "" else parse_payout(payout)
    out["conversion_type"] = out["conversion_type"] or DEFAULT_CONVERSION_TYPE
    used = {name for name, _value in values.values() if name} | RESERVED
    out["custom_data"] = {name: value for name, value in params.items() if name not in used}
    return out
