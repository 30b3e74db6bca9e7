"""The receiver's alert: a network silent for longer than its usual gap. ReceiverConfig.ready registers it."""

from datetime import timedelta
from itertools import pairwise

from django.conf import settings

from postbacks_project.alerts import registry

from .models import Network, Outcome, ReceivedPostback, Source

NETWORK_SILENT = "network_silent"
# A learned silence threshold reads at most this much of the network's history before its last postback.
HISTORY = timedelta(days=7)
HISTORY_LIMIT = 10_000
# Fewer gaps than this teach nothing: such a network alerts only with its own silence_alert_minutes.
MIN_GAPS = 10


def register():
    registry.register(NETWORK_SILENT, "network silent", networks_silent)


def networks_silent(now, open_alerts):
    """An active network sent no accepted postback for longer than its threshold (its silence_alert_minutes, or
    learned: its longest gap in the week before its last postback, times ALERT_SILENCE_FACTOR, at least
    ALERT_SILENCE_FLOOR_MINUTES); clears with its next postback. A network that never sent one is not silent."""
    floor = settings.ALERT_SILENCE_FLOOR_MINUTES * 60
    heard = ReceivedPostback.objects.filter(source=Source.POSTBACK, received_at__lte=now).exclude(
        outcome=Outcome.REJECTED
    )
    firing = {}
    networks = Network.objects.filter(is_active=True).exclude(silence_alert_minutes=0)
    for pk, name, minutes in networks.values_list("pk", "name", "silence_alert_minutes"):
        # Newest first on the (network, -received_at) index, as the gauge reads it.
        latest = heard.filter(network_id=pk).order_by("-received_at").values_list("received_at", flat=True)
        last = latest.first()
        if last is None:
            continue
        silence = (now - last).total_seconds()
        if minutes is not None:
            threshold, why = minutes * 60, "its silence_alert_minutes"
        elif silence <= floor:
            continue  # a learned threshold is never under the floor: no need to read the history
        else:
            gap = learned_gap(list(latest.filter(received_at__gte=last - HISTORY)[:HISTORY_LIMIT]))
            if gap is None:
                continue
            threshold = max(gap * settings.ALERT_SILENCE_FACTOR, floor)
            why = f"its longest gap of the week was {registry.duration(gap)}"
        if silence > threshold:
            firing[f"network:{pk}"] = (
                f"network {name}: no accepted postback for {registry.duration(silence)} "
                f"(alert after {registry.duration(threshold)}: {why})"
            )
    return firing


def learned_gap(times):
    """The longest gap in seconds between postbacks received at `times` (newest first); None with too few."""
    gaps = [(newer - older).total_seconds() for newer, older in pairwise(times)]
    return max(gaps) if len(gaps) >= MIN_GAPS else None
