"""Output for management commands: a human table by default, one JSON document with --json."""

import json
from decimal import Decimal


def money_text(value):
    """A Decimal as people write money: no trailing zeros beyond the cents (1.500000 -> 1.50)."""
    value = value.normalize()
    if value.as_tuple().exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return f"{value:f}"


def _default(value):
    if isinstance(value, Decimal):
        return money_text(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def emit(command, data, as_json, columns=None):
    """Print `data` (a dict or a list of dicts) as JSON or as an aligned table of `columns`."""
    if as_json:
        command.stdout.write(json.dumps(data, default=_default, indent=2))
        return
    rows = data if isinstance(data, list) else [data]
    if not isinstance(data, list):
        width = max(len(k) for k in data) if data else 0
        for name, value in data.items():
            command.stdout.write(f"{name.ljust(width)}  {_cell(value)}")
        return
    if not rows:
        command.stdout.write("(nothing)")
        return
    columns = columns or list(rows[0])
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    command.stdout.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        command.stdout.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return money_text(value)
    if hasattr(value, "isoformat"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)
