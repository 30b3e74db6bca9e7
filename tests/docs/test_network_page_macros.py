"""The network guide's table of which presets' page URL is written in the network's own macro syntax is the presets'
data: each preset sits in the row its recorded placeholders put it in."""

import re
from pathlib import Path

from receiver import presets
from receiver.admin import panel_names
from receiver.models import Network

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "network-integration.md"
ROWS = {
    "every parameter in the network's syntax": "own",
    "no parameter: the network appends them all": "appended",
    "some in the network's syntax, the rest generic": "mixed",
    "only generic `{name}` placeholders": "generic",
}


def documented_rows():
    """{row: slugs the guide lists in it}."""
    table = GUIDE.read_text().split("| the page writes | presets |", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        label, slugs = line.strip("|").split("|", 1)
        rows[ROWS[label.strip()]] = {
            slug for slug in re.findall(r"`([a-z-]+)`", slugs) if slug in presets.all_presets()
        }
    return rows


def row_of(slug):
    own, _, _ = presets.placeholders(slug)
    names = panel_names(presets.apply(Network(name=slug), slug))
    if not own:
        return "generic"
    if any(name not in own for name in names):
        return "mixed"
    return "appended" if all(own[name] is None for name in names) else "own"


def test_the_guide_puts_each_preset_in_the_row_its_macros_give_it():
    expected = {row: set() for row in ROWS.values()}
    for slug in presets.all_presets():
        expected[row_of(slug)].add(slug)

    assert documented_rows() == expected
