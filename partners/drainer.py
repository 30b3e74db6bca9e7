"""The drainer: due deliveries locked in batches, fairly across destinations and in order per conversion, sent
concurrently through the one transport, and recorded in bulk.

It runs inside a Celery task (partners.tasks.drain), woken after a commit that made deliveries due and by beat.
Any number of drainers may run at once: a delivery is locked by a conditional UPDATE that only one of them
can win, and a lock whose drainer died runs out, so the delivery is taken again (at-least-once).
"""

import logging
import os
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import NamedTuple
from uuid import uuid4

from django.conf import settings
from django.db import connection
from django.utils import timezone

from postbacks_project.db import write_transaction
from receiver.models import ConversionEvent, EventKind

from . import breaker, transport
from . import delivery as deliveries
from .locked import locked
from .models import Delivery, State, due_bounds, lock_span
from .routing import sending_terms

logger = logging.getLogger(__name__)
# A later event of a conversion waits for these deliveries of its earlier events to the same destination.
UNFINISHED = (State.PENDING, State.SENDING, State.RETRYING, State.WAITING_RATE, State.PARKED)
# Candidates read per free slot: enough to find other destinations' work behind one destination's backlog.
CANDIDATES_PER_SLOT = 4
POLL_SECONDS = 0.05
# The advisory lock drainers take in turn to lock a batch (any constant: the project takes no other).
LOCKERS = 0x64726169
GATHER_SECONDS = 0.005


def concurrency_of(destination):
    return destination.max_concurrency or settings.DELIVERY_PARTNER_CONCURRENCY


def rate_of(destination):
    return destination.max_per_second or settings.DELIVERY_PARTNER_RATE


class Pace:
    """Requests per second per destination, as token buckets (a bucket holds one second's worth)."""

    def __init__(self):
        self.buckets = {}  # destination id -> (tokens, last refill)
        self.lock = threading.Lock()

    def take(self, destination):
        rate = rate_of(destination)
        if not rate:
            return True
        with self.lock:
            now = time.monotonic()
            tokens, last = self.buckets.get(destination.pk, (rate, now))
            tokens = min(rate, tokens + (now - last) * rate)
            if tokens < 1:
                self.buckets[destination.pk] = (tokens, now)
                return False
            self.buckets[destination.pk] = (tokens - 1, now)
            return True


# One per process, shared by its drain tasks (a threads pool runs several): the rate holds per worker process.
PACE = Pace()


class Batch(NamedTuple):
    deliveries: list  # locked, with their event, conversion and offer
    held_back: bool  # due work was held back by a destination's pace
    unwell: frozenset  # destinations with a failing streak or a breaker not closed (breaker.Health)
    terms: object = None  # the sending terms it was locked with (routing.SendingTerms)


# PostgreSQL: the lockers' turn, and the planner settings of the lock's transaction (lock_batch() says why). Its
# commit is not waited for on disk: a lock lost in a crash of the database only leaves its deliveries due, to be
# sent again (at-least-once), and the record that follows it is durable, and so makes the lock durable too.
TAKE_TURN_SQL = (
    "SELECT pg_advisory_xact_lock(%s), set_config('enable_bitmapscan', 'off', true), "
    "set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), "
    "set_config('synchronous_commit', 'off', true)"
)


def lock_batch(room, pace, now=None):
    """Lock up to `room` due deliveries for this drainer (a Batch).

    Drainers lock one at a time (SQLite's one writer; a transaction-level advisory lock on PostgreSQL): what
    one counts in flight per destination includes what the one before it locked, so that together they stay within
    each destination's concurrency.
    """
    with write_transaction():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # A backlog the table's statistics have not seen yet (a replay, a partner back up: autovacuum
                # analyzes after 10 % of a table changes) is estimated at a few rows, and the planner's bitmap scan,
                # or a hash join with the events, then reads and sorts every due delivery for each round. Without
                # them, for this transaction only, each part of due() is read in index order up to its LIMIT, each
                # row's event by its key (bench/README.md, the backlog).
                cursor.execute(TAKE_TURN_SQL, [LOCKERS])
        return _lock_batch(room, pace, now or timezone.now())


def _lock_batch(room, pace, now):
    terms = sending_terms()
    destinations = terms.destinations
    in_flight = _in_flight(now)
    full = [pk for pk, n in in_flight.items() if pk in destinations and n >= concurrency_of(destinations[pk])]
    health = breaker.health(now)
    # An open breaker holds its destination's deliveries back; once its probe is due, one of them is the probe.
    full += [pk for pk, may_probe in health.paused.items() if not may_probe or in_flight.get(pk)]
    probes = {pk for pk, may_probe in health.paused.items() if may_probe}
    candidates = _candidates(now, full, room * CANDIDATES_PER_SLOT)
    chosen, held_back = _fair_share(candidates, room, destinations, in_flight, pace, probes)
    lost = {target for _pk, target in chosen if target in probes and not breaker.take_probe(target, now)}
    chosen = [pk for pk, target in chosen if target not in lost]
    if not chosen:
        return Batch([], held_back, health.unwell, terms)
    lease = uuid4().hex
    _lock(chosen, now, lease)
    return Batch(locked(lease), held_back, health.unwell, terms)


# The round's other statements, written as SQL for the same reason as the candidates' read below.
IN_FLIGHT = f"SELECT destination_id, COUNT(*) FROM {Delivery._meta.db_table} WHERE state = %s AND locked_until >= %s "
IN_FLIGHT += "GROUP BY destination_id"


def _in_flight(now):
    """{destination id: deliveries in flight under a lock that holds}."""
    with connection.cursor() as cursor:
        cursor.execute(IN_FLIGHT, [State.SENDING, connection.ops.adapt_datetimefield_value(now)])
        return dict(cursor.fetchall())


def _lock(chosen, now, lease):
    """Lock the deliveries `chosen` that are still due (models.due()) under `lease`."""
    adapt = connection.ops.adapt_datetimefield_value
    due_sql, due_params = [], []
    for state, field, op, bound in due_bounds(now):
        due_sql.append(f"(state = %s AND {field} {op} %s)")
        due_params += [state, adapt(bound)]
    sql = (
        f"UPDATE {Delivery._meta.db_table} SET state = %s, locked_until = %s, lease = %s "
        f"WHERE id IN ({', '.join(['%s'] * len(chosen))}) AND ({' OR '.join(due_sql)})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [State.SENDING, adapt(now + lock_span()), lease, *chosen, *due_params])


# One part of the candidates' read per part of due(): its oldest due deliveries in index order up to a LIMIT, each
# not waiting for an earlier event of its conversion to the same destination. A conversion's created event is its
# first, so only a later one's order is checked, by a subquery run per row through the conversion's events and the
# (event, destination) key: a backlog of new conversions (a replay) pays nothing for the check. Written as SQL
# because the ORM's building and compiling of the three-part UNION cost the round more than the database's answer.
CANDIDATES_PART = f"""SELECT * FROM (
    SELECT d.next_attempt_at, d.id, d.destination_id FROM {Delivery._meta.db_table} d
    JOIN {ConversionEvent._meta.db_table} e ON e.id = d.event_id
    WHERE d.state = %s AND d.{{field}} {{op}} %s{{not_full}} AND (e.kind = %s OR NOT EXISTS (
        SELECT 1 FROM {ConversionEvent._meta.db_table} xe JOIN {Delivery._meta.db_table} x ON x.event_id = xe.id
        WHERE xe.conversion_id = e.conversion_id AND xe.id < d.event_id AND x.destination_id = d.destination_id
        AND x.state IN ({", ".join(["%s"] * len(UNFINISHED))})
    ))
    ORDER BY d.next_attempt_at, d.id LIMIT %s
) part"""


def _candidates(now, full, limit):
    """(delivery id, destination id) of the oldest `limit` due deliveries of destinations not in `full`, each not
    waiting for an earlier event of its conversion to the same destination. Read per part of due()
    (models.due_bounds), in one UNION ALL of LIMITs: only the first rows of each index range are read."""
    not_full = f" AND d.destination_id NOT IN ({', '.join(['%s'] * len(full))})" if full else ""
    parts, params = [], []
    for state, field, op, bound in due_bounds(now):
        parts.append(CANDIDATES_PART.format(field=field, op=op, not_full=not_full))
        params += [state, connection.ops.adapt_datetimefield_value(bound), *full, EventKind.CREATED, *UNFINISHED, limit]
    # Sorted by the database: only the chosen rows' ids come back, without a timestamp to convert for each.
    sql = f"SELECT id, destination_id FROM ({' UNION ALL '.join(parts)}) due ORDER BY next_attempt_at, id LIMIT %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return cursor.fetchall()


def _fair_share(candidates, room, destinations, in_flight, pace, probes=frozenset()):
    """(delivery id, destination id) pairs, round robin over the candidates' destinations, each within its
    concurrency and its pace; a destination in `probes` gets one (its breaker's probe)."""
    queues = defaultdict(deque)
    for pk, target in candidates:
        queues[target].append(pk)
    chosen, held_back = [], False
    while queues and len(chosen) < room:
        for target in list(queues):
            destination = destinations.get(target)
            taken = in_flight.get(target, 0)
            limit = 1 if target in probes else concurrency_of(destination) if destination is not None else None
            if limit is not None and taken >= limit:
                del queues[target]
                continue
            if destination is not None and not pace.take(destination):
                held_back = True
                del queues[target]
                continue
            chosen.append((queues[target].popleft(), target))
            in_flight[target] = taken + 1
            if not queues[target]:
                del queues[target]
            if len(chosen) == room:
                break
    return chosen, held_back


def drain(task_id="", budget=None, concurrency=None):
    """Send due deliveries until none is left or `budget` seconds have passed; return (sent, retry_in).

    `retry_in` is the soonest retry this run scheduled within DELIVERY_COUNTDOWN_LIMIT (None without one), for
    the caller to be woken again then; later retries are the sweep's.
    """
    budget = settings.DELIVERY_DRAIN_SECONDS if budget is None else budget
    concurrency = concurrency or settings.DELIVERY_DRAIN_CONCURRENCY
    deadline = time.monotonic() + budget
    # running: each send in flight (a future) -> (Prepared, when it was handed to a sender)
    pace, pool, running, sent, soonest = PACE, senders(concurrency), {}, 0, None
    unwell = frozenset()
    # Locking and recording cost a few statements per round whatever its size: refill once three quarters of the
    # slots are free, or as soon as a slot is free if every send still in flight is slow (out for more than a
    # poll): waiting for those would leave the slot empty, not fill a bigger round.
    refill = max(1, concurrency * 3 // 4)
    while True:
        batch = Batch([], False, unwell)
        room, now = concurrency - len(running), time.monotonic()
        slow = room and all(now - since > POLL_SECONDS for _prepared, since in running.values())
        if (room >= refill or slow) and now < deadline:
            batch = lock_batch(room, pace)
            # The latest look at the destinations' health: what is recorded next is measured against it.
            unwell = batch.unwell
            for prepared in deliveries.prepare_all(batch.deliveries, task_id, batch.terms):
                running[pool.submit(transport.send, prepared.request)] = (prepared, time.monotonic())
        if not running:
            if batch.deliveries and time.monotonic() < deadline:
                continue  # all of them were parked, closed or left waiting for a rate: there may be more
            if batch.held_back and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
                continue
            return sent, soonest
        done, _ = wait(running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
        if not done:
            continue
        if len(done) < refill and len(running) > len(done):
            # A few more are usually a moment away: record them together.
            done |= wait(set(running) - done, timeout=GATHER_SECONDS, return_when=ALL_COMPLETED)[0]
        finished = [(running.pop(future)[0], _result(future)) for future in done]
        for outcome in deliveries.record_all(finished, task_id, unwell):
            sent += 1
            if outcome.retry_in is not None and outcome.retry_in <= settings.DELIVERY_COUNTDOWN_LIMIT:
                soonest = outcome.retry_in if soonest is None else min(soonest, outcome.retry_in)


_senders = threading.local()


def senders(concurrency):
    """This thread's pool of sender threads, kept from one drain to the next (a worker thread runs one drain at a
    time), so that a drain does not start its threads again."""
    pool = getattr(_senders, "pool", None)
    if pool is None or _senders.size != concurrency or _senders.pid != os.getpid():
        if pool is not None and _senders.pid == os.getpid():
            pool.shutdown(wait=False)
        pool = _senders.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="drainer")
        _senders.size, _senders.pid = concurrency, os.getpid()
    return pool


def _result(future):
    try:
        return future.result()
    except Exception as exc:  # the transport answers every failure it knows with a Result; this is our bug
        logger.exception("the transport failed")
        return transport.internal_error(exc)
