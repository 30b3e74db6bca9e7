"""Presets: a known network's settings as data (receiver/presets.json), a starting point every field of which stays
editable."""

import json
from functools import cache
from pathlib import Path

SOURCES = {
    "documented": "from the network's own documentation",
    "third-party": "from third-party integrations' code: check it against the network's docs",
    "unverified": "from memory only: verify it with the network before relying on it",
}
# The Network fields a preset may fill in.
FIELDS = (
    "param_mapping",
    "status_mapping",
    "signature",
    "acknowledgements",
    "allowed_ips",
    "payout_scale",
    "default_currency",
    "decimal_comma",
    "reversal",
    "test_flag",
    "currency_points",
)


class UnknownPreset(LookupError):
    pass


@cache
def all_presets():
    """{slug: preset}, in the file's order."""
    data = json.loads((Path(__file__).with_name("presets.json")).read_text())
    return {preset["slug"]: preset for preset in data}


def preset(slug):
    try:
        return all_presets()[slug]
    except KeyError:
        raise UnknownPreset(f"no preset {slug!r}; the presets are {', '.join(all_presets())}") from None


def placeholders(slug):
    """The network's own placeholder per parameter name, the page that shows them and where that page comes from (a
    SOURCES key); ({}, "", "") when the preset records none (or there is no such preset). A None placeholder is one the
    network appends by itself."""
    macros = all_presets().get(slug, {}).get("macros", {})
    return macros.get("placeholders", {}), macros.get("docs", ""), macros.get("source", "")


def apply(network, slug):
    """Fill the network's fields from the preset and note its slug (not saved); the secret is the admin's to give."""
    settings = preset(slug)["settings"]
    for name in FIELDS:
        if name in settings:
            setattr(network, name, settings[name])
    network.preset = slug
    return network
