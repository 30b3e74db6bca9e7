"""Signature recipes: how a network signs its postbacks, written as data, and the one check that reads them.

A recipe is a small JSON object (see docs/network-integration.md): a scheme (none, token, fields, url, params,
body), an algorithm, HMAC or a plain hash, an encoding, and where the signature travels. One function per scheme
builds the bytes the network signed; everything else is shared. A failed check names the step that failed,
never the value we expected.
"""

import base64
import hashlib
import hmac
import re
from functools import partial
from urllib.parse import quote, quote_plus

from django.conf import settings

SCHEMES = ("none", "token", "fields", "url", "params", "body")
ALGORITHMS = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
ENCODINGS = ("hex", "base64", "base64url")


def _rfc1738(text):
    # PHP's urlencode (http_build_query), which networks sign with: Python keeps "~" as it is, PHP writes %7E.
    return quote_plus(text, safe="").replace("~", "%7E")


QUOTES = {"rfc1738": _rfc1738, "rfc3986": partial(quote, safe="-._~"), "raw": str}
PLACES = ("query", "header", "body")
KEYS = {
    *("scheme", "algorithm", "hmac", "template", "in", "encoding"),
    *("names", "pairs", "separator", "quote", "sort", "present", "omit_empty"),
}
# What networks configured before recipes had: X-Signature = hex HMAC-SHA256 of the body, or of the raw query.
BODY_DEFAULT = {"scheme": "body", "in": "header:X-Signature", "algorithm": "sha256", "encoding": "hex"}
TEMPLATE_NAME = re.compile(r"\{([^{}]+)\}")


class RecipeError(ValueError):
    """A recipe that cannot be used: the message names the key and what it may be."""


class Failed(Exception):
    """The request does not carry the signature its network's recipe asks for; the message says which step."""


def validate(recipe):
    """The recipe with its defaults filled in, or RecipeError naming what is wrong."""
    if not isinstance(recipe, dict):
        raise RecipeError('a signature recipe is a JSON object, e.g. {"scheme": "none"}')
    unknown = sorted(set(recipe) - KEYS)
    if unknown:
        raise RecipeError(f"unknown key {unknown[0]!r}; a recipe has {', '.join(sorted(KEYS))}")
    scheme = recipe.get("scheme", "none")
    if scheme not in SCHEMES:
        raise RecipeError(f"scheme {scheme!r} is not one of {', '.join(SCHEMES)}")
    if scheme == "none":
        return {"scheme": "none"}
    full = {
        "scheme": scheme,
        "in": recipe.get("in", ""),
        "algorithm": recipe.get("algorithm", "sha256"),
        "hmac": recipe.get("hmac", scheme != "fields"),
        "encoding": recipe.get("encoding", "hex"),
    }
    _place(full["in"])
    if scheme == "token":
        return {"scheme": "token", "in": full["in"]}
    if full["algorithm"] not in ALGORITHMS:
        raise RecipeError(f"algorithm {full['algorithm']!r} is not one of {', '.join(ALGORITHMS)}")
    if not isinstance(full["hmac"], bool):
        raise RecipeError("hmac is true or false")
    if full["encoding"] not in ENCODINGS:
        raise RecipeError(f"encoding {full['encoding']!r} is not one of {', '.join(ENCODINGS)}")
    if scheme == "fields":
        template = recipe.get("template")
        if not isinstance(template, str) or not template:
            raise RecipeError('a fields recipe needs a template, e.g. "{trans_id}-{secret}"')
        full["template"] = template
    if scheme == "params":
        full.update(_params_keys(recipe))
    return full


def _params_keys(recipe):
    names = recipe.get("names", "all")
    if names != "all" and not (isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)):
        raise RecipeError('names is "all" or a list of the parameters that are signed')
    pairs, separator = recipe.get("pairs", True), recipe.get("separator", "&")
    if not isinstance(pairs, bool):
        raise RecipeError("pairs is true (name=value) or false (values only)")
    if not isinstance(separator, str):
        raise RecipeError('separator is a string, e.g. "&" or ":"')
    quoting, order = recipe.get("quote", "rfc1738"), recipe.get("sort", True)
    if quoting not in QUOTES:
        raise RecipeError(f"quote {quoting!r} is not one of {', '.join(QUOTES)}")
    if not isinstance(order, bool):
        raise RecipeError("sort is true (by name) or false (in the order names lists them)")
    present, omit_empty = recipe.get("present", False), recipe.get("omit_empty", [])
    if not isinstance(present, bool):
        raise RecipeError("present is true (a listed name the request lacks is left out) or false (it fails)")
    if not (isinstance(omit_empty, list) and all(isinstance(n, str) and n for n in omit_empty)):
        raise RecipeError("omit_empty is a list of the parameters left out of the signature when they are empty")
    return {
        **{"names": names, "pairs": pairs, "separator": separator, "quote": quoting, "sort": order},
        **{"present": present, "omit_empty": omit_empty},
    }


def _place(where):
    place, _, name = str(where).partition(":")
    if place not in PLACES or not name:
        raise RecipeError(f"in {where!r} is not query:NAME, header:NAME or body:NAME")
    return place, name


def signature_name(recipe):
    """The parameter the signature travels in (never data of the conversion), or None."""
    if recipe.get("scheme", "none") == "none":
        return None
    place, name = _place(recipe["in"])
    return name if place in ("query", "body") else None


def covers(recipe, name):
    """Whether the signature vouches for parameter `name`: a fields template or a params list may leave it out.

    Without a signature (none, token) the key vouches for the whole request, as for url and body recipes.
    """
    scheme = recipe.get("scheme", "none")
    if scheme == "fields":
        return name in TEMPLATE_NAME.findall(recipe["template"])
    if scheme == "params":
        return recipe["names"] == "all" or name in recipe["names"]
    return True


def token_name(recipe):
    """The header or parameter a token recipe's secret travels in."""
    return _place(recipe["in"])[1]


def token_given(recipe, inbound, params):
    """What the request sent where a token recipe looks for the secret ("" for nothing)."""
    try:
        return _given(recipe, inbound, params)
    except Failed:
        return ""


def verify(recipe, secret, inbound, params):
    """Raise Failed unless `inbound` carries the signature `recipe` asks for; `params` are its decoded parameters."""
    scheme = recipe.get("scheme", "none")
    if scheme == "none":
        return
    given = _given(recipe, inbound, params)
    if scheme == "token":
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise Failed(f"the token in {recipe['in']} is not this network's secret")
        return
    message = MESSAGES[scheme](recipe, secret, inbound, params)
    algorithm = ALGORITHMS[recipe["algorithm"]]
    if recipe["hmac"]:
        digest = hmac.new(secret.encode(), message, algorithm).digest()
    else:
        digest = algorithm(message).digest()
    if not hmac.compare_digest(_encoded(digest, recipe["encoding"]), _normal(given, recipe)):
        kind = f"{'HMAC-' if recipe['hmac'] else ''}{recipe['algorithm'].upper()} {recipe['encoding']}"
        raise Failed(f"the signature in {recipe['in']} does not match the {kind} of {DESCRIBED[scheme]}")


def _given(recipe, inbound, params):
    place, name = _place(recipe["in"])
    if place == "header":
        value = inbound.header(name)
    elif place == "query":
        value = inbound.query.get(name)
    else:
        value = params.get(name)
    value = "" if value is None else str(value).strip()
    # Some senders prefix the digest with its algorithm, as GitHub does: sha256=...
    prefix = f"{recipe.get('algorithm', '')}="
    if value.lower().startswith(prefix) and len(prefix) > 1:
        value = value[len(prefix) :]
    if not value:
        raise Failed(f"no signature in {recipe['in']}")
    if not value.isascii():
        raise Failed(f"the signature in {recipe['in']} has characters no digest has")
    return value


def _encoded(digest, encoding):
    if encoding == "hex":
        return digest.hex().encode()
    text = base64.b64encode(digest) if encoding == "base64" else base64.urlsafe_b64encode(digest)
    return text.rstrip(b"=")


def _normal(given, recipe):
    return given.lower().encode() if recipe["encoding"] == "hex" else given.rstrip("=").encode()


def _fields(recipe, secret, inbound, params):
    def value(match):
        name = match.group(1)
        if name == "secret":
            return secret
        if name not in params:
            raise Failed(f"the template names {{{name}}}, which the request does not carry")
        return str(params[name])

    return TEMPLATE_NAME.sub(value, recipe["template"]).encode()


def _url(recipe, secret, inbound, params):
    # The URL as the network called it: behind a proxy, scheme, host and port are the public ones.
    _where, name = _place(recipe["in"])
    kept = [part for part in inbound.query_string.split("&") if part and part.split("=", 1)[0] != name]
    query = "&".join(kept)
    return f"{settings.PUBLIC_BASE_URL}{inbound.raw_path}{'?' + query if query else ''}".encode()


def _params(recipe, secret, inbound, params):
    name = signature_name(recipe)
    signed = {k: str(v) for k, v in params.items() if k != name and not isinstance(v, (dict, list))}
    signed = {k: v for k, v in signed.items() if v or k not in recipe["omit_empty"]}
    if recipe["names"] != "all":
        missing = [n for n in recipe["names"] if n not in signed and n not in recipe["omit_empty"]]
        if missing and not recipe["present"]:
            raise Failed(f"the recipe signs {missing[0]}, which the request does not carry")
        order = [n for n in recipe["names"] if n in signed]
    else:
        order = list(signed)
    if recipe["sort"]:
        order = sorted(order)
    quoted = QUOTES[recipe["quote"]]
    parts = [f"{quoted(k)}={quoted(signed[k])}" if recipe["pairs"] else quoted(signed[k]) for k in order]
    return recipe["separator"].join(parts).encode()


def _body(recipe, secret, inbound, params):
    return inbound.body if inbound.body else inbound.query_string.encode()


MESSAGES = {"fields": _fields, "url": _url, "params": _params, "body": _body}
DESCRIBED = {
    "fields": "the template",
    "url": "the URL as called, without the signature",
    "params": "the parameters",
    "body": "the body (or the raw query when there is none)",
}
