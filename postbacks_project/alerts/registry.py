"""The alert kinds and notice channels, registered by each app from its AppConfig.ready: this package imports no app.

A kind's condition is a function of (now, open alerts by key) giving {key: message} of what holds now; a key missing
from the answer clears its open alert. A kind without one is opened and closed by its own watcher (the worker's,
postbacks_project/alerts/worker.py). A channel is a function of (event, alert) that tells the operator, besides email.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    condition: Callable | None = None


KINDS: dict[str, Kind] = {}
CHANNELS: list[Callable] = []


def register(name, label, condition=None):
    """Add an alert kind; registering the same one again (a second ready() in tests) replaces it."""
    KINDS[name] = Kind(name, label, condition)


def add_channel(send):
    if send not in CHANNELS:
        CHANNELS.append(send)


def conditions():
    return {kind.name: kind.condition for kind in KINDS.values() if kind.condition is not None}


def label(name):
    kind = KINDS.get(name)
    return kind.label if kind else name


def duration(seconds):
    """Seconds as the notices say them: "90 s", "12 min", "3 h 5 min"."""
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
