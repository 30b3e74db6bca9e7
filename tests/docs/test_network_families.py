"""The signature family pages (docs/networks/*.md) are right: each worked example's hashed text and signature, worked
out here from the page's own URL, recipe and secret, are the values written on it, and the receiver accepts the
example and lands its reversal.

A page marks its example with fenced blocks: `example-recipe` (JSON), `example-preset` (the preset whose other
settings the network takes; optional), `example-secret`, `example-url`, `example-headers` (`Name: value` lines),
`example-body` (a POST), `example-hashed` and `example-signature`; the same with `reversal-` for the reversal, plus
`reversal-status`. The signer below reads the recipe itself and never calls receiver.signatures, so a page and the
receiver can only agree by both being right.
"""

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import pytest

from receiver import presets
from receiver.models import Conversion, Network, ReceivedPostback
from tests.receiver.network_signers import encoded

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "docs" / "networks"
GUIDE = ROOT / "docs" / "network-integration.md"
FAMILIES = ("fields", "url", "params", "body", "token", "none")
BLOCK = re.compile(r"^```((?:example|reversal)-[a-z]+)\n(.*?)\n```$", re.M | re.S)
DIGESTS = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
QUOTING = {"rfc1738": quote_plus, "rfc3986": lambda text: quote(text, safe="-._~"), "raw": str}


@dataclass(frozen=True)
class Request:
    url: str
    headers: dict
    body: bytes | None

    @property
    def query(self):
        return urlsplit(self.url).query


def blocks(family):
    found = BLOCK.findall((PAGES / f"{family}.md").read_text(encoding="utf-8"))
    tags = [tag for tag, _text in found]
    assert len(tags) == len(set(tags)), f"{family}.md repeats a block: {tags}"
    return dict(found)


def request_of(page, prefix):
    lines = page.get(f"{prefix}-headers", "").splitlines()
    headers = dict(line.split(": ", 1) for line in lines)
    body = page.get(f"{prefix}-body")
    return Request(page[f"{prefix}-url"], headers, None if body is None else body.encode())


def where(recipe):
    place, _, name = recipe["in"].partition(":")
    return place, name


def signature_sent(recipe, request):
    place, name = where(recipe)
    if place == "header":
        return request.headers.get(name)
    return dict(parse_qsl(request.query, keep_blank_values=True)).get(name)


def hashed_text(recipe, request, secret):
    """What the network hashed, worked out from the recipe as its docs describe it."""
    scheme, (_place, name) = recipe["scheme"], where(recipe)
    decoded = {k: v for k, v in parse_qsl(request.query, keep_blank_values=True) if k != name}
    if scheme == "fields":
        return re.sub(r"\{([^{}]+)\}", lambda m: secret if m[1] == "secret" else decoded[m[1]], recipe["template"])
    if scheme == "url":
        base, _, query = request.url.partition("?")
        kept = "&".join(part for part in query.split("&") if part.split("=", 1)[0] != name)
        return f"{base}?{kept}" if kept else base
    if scheme == "params":
        names = list(decoded) if recipe.get("names", "all") == "all" else recipe["names"]
        if recipe.get("sort", True):
            names = sorted(names)
        quoted = QUOTING[recipe.get("quote", "rfc1738")]
        pairs = recipe.get("pairs", True)
        parts = [f"{quoted(n)}={quoted(decoded[n])}" if pairs else quoted(decoded[n]) for n in names]
        return recipe.get("separator", "&").join(parts)
    assert scheme == "body"
    return request.body.decode() if request.body else request.query


def signature_of(recipe, text, secret):
    algorithm = DIGESTS[recipe.get("algorithm", "sha256")]
    if recipe.get("hmac", recipe["scheme"] != "fields"):
        digest = hmac.new(secret.encode(), text.encode(), algorithm).digest()
    else:
        digest = algorithm(text.encode()).digest()
    return encoded(digest, recipe.get("encoding", "hex"))


def scheme_of(preset):
    return preset["settings"].get("signature", {}).get("scheme", "none")


def test_the_guide_links_each_family_page_from_its_signatures_step():
    guide = GUIDE.read_text(encoding="utf-8")
    step_5 = guide[guide.index("## 5. ") : guide.index("## 6. ")]
    assert [family for family in FAMILIES if f"(networks/{family}.md)" not in step_5] == []
    assert sorted(path.stem for path in PAGES.glob("*.md")) == sorted(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_page_lists_exactly_the_presets_of_its_family(family):
    listed = re.findall(r"^\| `([a-z0-9-]+)` \|", (PAGES / f"{family}.md").read_text(encoding="utf-8"), re.M)
    expected = [slug for slug, preset in presets.all_presets().items() if scheme_of(preset) == family]
    assert listed == expected


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_pages_recipe_is_its_presets(family):
    page = blocks(family)
    recipe = json.loads(page["example-recipe"])
    assert recipe["scheme"] == family
    if "example-preset" in page:
        assert presets.preset(page["example-preset"])["settings"].get("signature", {"scheme": "none"}) == recipe


@pytest.mark.parametrize("prefix", ["example", "reversal"])
@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_pages_hashed_text_and_signature_are_the_ones_written(family, prefix):
    page = blocks(family)
    recipe, request = json.loads(page["example-recipe"]), request_of(page, prefix)
    if family == "none":
        assert {f"{prefix}-hashed", f"{prefix}-signature", "example-secret"} & set(page) == set()
        return
    secret = page["example-secret"]
    assert signature_sent(recipe, request) == page[f"{prefix}-signature"]
    if family == "token":
        assert f"{prefix}-hashed" not in page
        assert page[f"{prefix}-signature"] == secret
        return
    hashed = hashed_text(recipe, request, secret)
    assert hashed == page[f"{prefix}-hashed"]
    assert signature_of(recipe, hashed, secret) == page[f"{prefix}-signature"]


def send(client, request):
    path = request.url[len(f"{urlsplit(request.url).scheme}://{urlsplit(request.url).netloc}") :]
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-type"}
    if request.body is not None:
        content_type = request.headers.get("Content-Type", "application/octet-stream")
        return client.post(path, data=request.body, content_type=content_type, headers=headers)
    return client.get(path, headers=headers)


@pytest.mark.django_db
@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_pages_example_is_accepted_and_its_reversal_lands_once(client, settings, family):
    page = blocks(family)
    example, reversal = request_of(page, "example"), request_of(page, "reversal")
    parts = urlsplit(example.url)
    settings.PUBLIC_BASE_URL = f"{parts.scheme}://{parts.netloc}"
    key = parts.path.removeprefix("/postback/").strip("/")
    network = Network(name=f"{family} example", key=key, hmac_secret=page.get("example-secret", ""))
    if "example-preset" in page:
        presets.apply(network, page["example-preset"])
    network.signature = json.loads(page["example-recipe"])
    network.full_clean()
    network.save()

    accepted = send(client, example)
    reversed_ = send(client, reversal)
    again = send(client, reversal)

    assert (accepted.status_code, reversed_.status_code, again.status_code) == (200, 200, 200), accepted.content
    rows = ReceivedPostback.objects.order_by("pk")
    assert [(row.outcome, row.reason) for row in rows] == [("accepted", ""), ("status_change", ""), ("duplicate", "")]
    conversion = Conversion.objects.get()
    assert conversion.status == page["reversal-status"]
