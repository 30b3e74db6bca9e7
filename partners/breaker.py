"""Circuit breakers per destination: after consecutive failures a destination's deliveries pause instead of each
burning its own retries; one probe at growing intervals closes the breaker again. Auto-disable stays the last resort."""

from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import Q

from .models import Breaker, Destination, DestinationHealth, lock_span


class Health(NamedTuple):
    """What the drainer needs of the destinations' health, read in one query when it locks a batch."""

    paused: dict  # destination id -> True if one probe may go now, False if it must wait; breakers not closed
    unwell: frozenset  # destinations with a failing streak (failing_since) or failures in a row, or not closed


def health(now):
    """The destinations' breakers and streaks, for the drainer's next batch (one query, written as SQL: the drainer
    reads it every round, and the ORM's compiling of the join cost more than the answer)."""
    with connection.cursor() as cursor:
        opened, half_opened = (connection.ops.adapt_datetimefield_value(bound) for bound in _probe_bounds(now))
        cursor.execute(HEALTH_SQL, [Breaker.OPEN, opened, Breaker.HALF_OPEN, half_opened, *NOT_CLOSED])
        rows = cursor.fetchall()
    paused, unwell = {}, set()
    for pk, state, may_probe in rows:
        unwell.add(pk)
        if state in NOT_CLOSED:
            paused[pk] = bool(may_probe)
    return Health(paused, frozenset(unwell))


NOT_CLOSED = (Breaker.OPEN, Breaker.HALF_OPEN)
# Each row: a destination, its breaker, and whether its probe may go now (_probe_due()).
HEALTH_SQL = f"""SELECT d.id, h.breaker,
    (h.breaker = %s AND h.probe_at <= %s) OR (h.breaker = %s AND h.probe_at < %s)
    FROM {Destination._meta.db_table} d LEFT JOIN {DestinationHealth._meta.db_table} h ON h.destination_id = d.id
    WHERE d.failing_since IS NOT NULL OR h.consecutive_failures > 0 OR h.breaker IN (%s, %s)"""


def take_probe(destination_id, now):
    """Whether this drainer sends the destination's one probe (only one of several drainers wins it)."""
    return (
        DestinationHealth.objects.filter(_probe_due(now), destination_id=destination_id).update(
            breaker=Breaker.HALF_OPEN, probe_at=now
        )
        == 1
    )


def _probe_due(now):
    opened, half_opened = _probe_bounds(now)
    return Q(breaker=Breaker.OPEN, probe_at__lte=opened) | Q(breaker=Breaker.HALF_OPEN, probe_at__lt=half_opened)


def _probe_bounds(now):
    """When an open breaker's probe is due (probe_at at most this), and when a half-open one may probe again (probe_at
    before this): its probe was never recorded (its drainer died, or lost the delivery's lock), and that probe's
    lock would have run out."""
    return now, now - lock_span()


def record(outcomes, now):
    """Move each destination's breaker by this batch's results: {destination id: [ok, ok, failed...]} in the order
    recorded.

    A success closes it and clears the streak; failures add to it, and DELIVERY_BREAKER_FAILURES in a row open it
    for DELIVERY_BREAKER_PROBE_SECONDS, doubled after each failed probe up to DELIVERY_BREAKER_PROBE_MAX.
    """
    if not outcomes:
        return
    rows = DestinationHealth.objects.select_for_update().filter(destination_id__in=outcomes)
    health = {row.destination_id: row for row in rows}
    created = []
    for destination_id, results in outcomes.items():
        row = health.get(destination_id)
        if row is None:
            if all(results):
                continue  # a healthy destination needs no row until it first fails
            row = DestinationHealth(destination_id=destination_id)
            created.append(row)
        _move(row, results, now)
    DestinationHealth.objects.bulk_create(created)
    existing = [row for pk, row in health.items() if pk in outcomes]
    if existing:
        DestinationHealth.objects.bulk_update(existing, CHANGED)


CHANGED = ["breaker", "consecutive_failures", "opened_at", "probe_at", "probe_interval", "last_success_at"]
CHANGED += ["last_failure_at"]


def _move(row, results, now):
    for ok in results:
        if ok:
            row.breaker, row.consecutive_failures, row.probe_at, row.probe_interval = Breaker.CLOSED, 0, None, 0
            row.last_success_at = now
            continue
        row.consecutive_failures += 1
        row.last_failure_at = now
        if row.breaker == Breaker.HALF_OPEN:
            _open(row, now, min(row.probe_interval * 2, settings.DELIVERY_BREAKER_PROBE_MAX))
        elif row.breaker == Breaker.CLOSED and row.consecutive_failures >= settings.DELIVERY_BREAKER_FAILURES:
            _open(row, now, settings.DELIVERY_BREAKER_PROBE_SECONDS)


def _open(row, now, interval):
    row.breaker, row.opened_at, row.probe_interval = Breaker.OPEN, now, interval
    row.probe_at = now + timedelta(seconds=interval)
