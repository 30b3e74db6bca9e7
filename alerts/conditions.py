"""What each alert watches: per kind, a function of (now, open alerts by key) giving {key: message} of what holds now.

A key missing from the answer clears its open alert. The functions read the same rows as the metrics' gauges
(partners/gauges.py), so an alert and a graph never disagree on what "due" or "heard from" means.
"""

from datetime import timedelta
from itertools import pairwise

from django.conf import settings
from django.db.models import Count, Min, Q

from partners.models import DUE_STATES, Delivery, DeliveryAttempt, Partner
from receiver.models import Network, Outcome, ReceivedPostback, Source

from .models import Kind

# A learned silence threshold reads at most this much of the network's history before its last postback.
HISTORY = timedelta(days=7)
HISTORY_LIMIT = 10_000
# Fewer gaps than this teach nothing: such a network alerts only with its own silence_alert_minutes.
MIN_GAPS = 10


def partners_disabled(now, open_alerts):
    """Active partners the hub disabled on its own; clears when an admin re-enables (or switches off) the partner."""
    rows = Partner.objects.filter(is_active=True, disabled_at__isnull=False).values_list(
        "pk", "name", "disabled_at", "disabled_reason"
    )
    return {
        f"partner:{pk}": f"partner {name} was auto-disabled at {disabled_at:%Y-%m-%d %H:%M:%S} UTC"
        + (f": {reason}" if reason else "")
        for pk, name, disabled_at, reason in rows
    }


def partners_failing(now, open_alerts):
    """More than ALERT_FAILURE_RATIO of an active partner's attempts failed in the last ALERT_FAILURE_MINUTES, out of
    at least ALERT_FAILURE_MIN_ATTEMPTS. An open alert clears only once the partner's latest attempt succeeded and
    the ratio is back under the threshold: a partner whose breaker holds its attempts back is still failing."""
    minutes = settings.ALERT_FAILURE_MINUTES
    since = now - timedelta(minutes=minutes)
    succeeded = Q(error_code="", response_status__gte=200, response_status__lt=300)
    rows = (
        DeliveryAttempt.objects.filter(created_at__gt=since, created_at__lte=now, delivery__partner__is_active=True)
        .values("delivery__partner_id")
        .annotate(total=Count("id"), ok=Count("id", filter=succeeded))
    )
    counts = {row["delivery__partner_id"]: (row["total"], row["total"] - row["ok"]) for row in rows}
    names = dict(Partner.objects.filter(is_active=True).values_list("pk", "name"))
    firing = {}
    for pk, name in names.items():
        key = f"partner:{pk}"
        total, failed = counts.get(pk, (0, 0))
        over = total > 0 and failed / total > settings.ALERT_FAILURE_RATIO
        if key in open_alerts:
            holds = over or _latest_attempt_failed(pk, now)
        else:
            holds = over and total >= settings.ALERT_FAILURE_MIN_ATTEMPTS
        if holds:
            firing[key] = f"partner {name}: {failed} of {total} attempts failed in the last {minutes:g} min"
    return firing


def _latest_attempt_failed(partner_id, now):
    latest = (
        DeliveryAttempt.objects.filter(delivery__partner_id=partner_id, created_at__lte=now)
        .order_by("-created_at", "-id")
        .values_list("error_code", "response_status")
        .first()
    )
    return latest is not None and (latest[0] != "" or not 200 <= (latest[1] or 0) < 300)


def backlog(now, open_alerts):
    """A partner's oldest due delivery (pending or retrying, its time come, not sent) waited over ALERT_BACKLOG_SECONDS
    past its time; clears when none has."""
    limit = settings.ALERT_BACKLOG_SECONDS
    rows = (
        Delivery.objects.filter(state__in=DUE_STATES, next_attempt_at__lte=now - timedelta(seconds=limit))
        .values("partner_id", "partner__name")
        .annotate(count=Count("id"), oldest=Min("next_attempt_at"))
    )
    return {
        f"partner:{row['partner_id']}": f"partner {row['partner__name']}: {row['count']} deliveries waiting more "
        f"than {limit} s past their time, the oldest {_duration((now - row['oldest']).total_seconds())}"
        for row in rows
    }


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
            why = f"its longest gap of the week was {_duration(gap)}"
        if silence > threshold:
            firing[f"network:{pk}"] = (
                f"network {name}: no accepted postback for {_duration(silence)} "
                f"(alert after {_duration(threshold)}: {why})"
            )
    return firing


def learned_gap(times):
    """The longest gap in seconds between postbacks received at `times` (newest first); None with too few."""
    gaps = [(newer - older).total_seconds() for newer, older in pairwise(times)]
    return max(gaps) if len(gaps) >= MIN_GAPS else None


def _duration(seconds):
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


CONDITIONS = {
    Kind.PARTNER_DISABLED: partners_disabled,
    Kind.PARTNER_FAILING: partners_failing,
    Kind.BACKLOG: backlog,
    Kind.NETWORK_SILENT: networks_silent,
}
