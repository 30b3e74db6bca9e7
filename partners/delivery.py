"""Deliveries: made when their event is routed, locked by one worker, attempted, then scheduled again or closed."""

import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from postbacks_project import metrics
from postbacks_project.db import write_transaction
from receiver.models import Conversion, EventKind, Source

from . import amounts, breaker, transport
from .locked import locked
from .macros import event_values
from .models import Delivery, DeliveryAttempt, Destination, NetworkPostback, State, due, due_parts, lock_span
from .outbound import OutboundRequest, attempt_fields, build_request
from .routing import routing_terms, sending_terms, skip_reason

logger = logging.getLogger(__name__)
AMOUNT_FIELDS = [
    *("effect", "amount", "amount_currency", "house_amount", "gross", "previous_amount", "points"),
    *("share_type", "share_value", "share_currency"),
]
JITTER = 0.2
RETRY_AFTER_MAX = 3600


@dataclass
class Attempted:
    """What became of a delivery after an attempt: its state, and the seconds to its next try if it has one."""

    state: str
    retry_in: float | None = None


def create_for_events(events):
    """The deliveries of events being routed (partners.outbox), in the caller's transaction: one per routed
    partner, a skipped row (with its reason) for each filtered one, and a new claim's report to its network.

    A delivery that exists already is kept as it is (the unique constraint on event and destination), so routing
    an event again makes nothing twice. Returns how many new deliveries are pending, i.e. whether there is
    anything to send.
    """
    now = timezone.now()
    terms = routing_terms()
    rows = []
    for event in events:
        rows += _routed(event, terms, now)
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    return sum(1 for row in rows if row.state == State.PENDING)


def _routed(event, terms, now):
    """One event's new deliveries, amounts fixed; none for a repriced event, which is recorded, never forwarded."""
    if event.kind == EventKind.REPRICED:
        return []
    rows = []
    for partner in terms.partners:
        why = skip_reason(partner, event)
        row = _new_delivery(event, partner, now, why)
        if why is None and partner.disabled_at is not None:
            row.state, row.reason = State.PARKED, parked_because(partner)
        rows.append(row)
    if event.kind == EventKind.CREATED and event.conversion.source == Source.CLAIM:
        report = _network_report(event, now)
        if report is not None:
            rows.append(report)
    if not rows:
        return rows
    # A new conversion has no earlier deliveries: nothing held, and no query to learn it. The outbox routes a
    # conversion's events in order, so a later event finds every earlier one's deliveries.
    held = {} if event.kind == EventKind.CREATED else amounts.held_by_destination(event.conversion)
    for row in rows:
        if row.state in (State.PENDING, State.PARKED):
            offer_share = terms.offer_shares.get((row.destination.pk, event.conversion.offer_id))
            amounts.fix(row, event, row.destination, offer_share, held.get(row.destination.pk, amounts.Held()))
    return rows


def release_waiting(conversion):
    """Once the conversion has its rate: fix the amounts of its deliveries that waited, oldest first, and queue them.

    Deliveries that already had their amount get the house amount they lacked. Returns the events to send.
    """
    terms = sending_terms()
    events = set()
    waiting = Delivery.objects.filter(event__conversion=conversion, state=State.WAITING_RATE).order_by("id")
    for row in waiting.select_related("event__conversion"):
        row.destination = terms.destinations[row.destination_id]
        row.event.conversion = conversion
        row.state = State.PENDING
        amounts.fix_existing(row, terms.offer_shares)
        row.next_attempt_at = row.updated_at = timezone.now()
        row.save(update_fields=[*AMOUNT_FIELDS, "state", "next_attempt_at", "updated_at"])
        events.add(row.event_id)
    unpriced = Delivery.objects.filter(event__conversion=conversion, house_amount__isnull=True, amount__isnull=False)
    for row in unpriced.filter(amount_currency=conversion.currency):
        row.house_amount = amounts.in_house(row.amount, row.amount_currency, conversion)
        row.save(update_fields=["house_amount"])
    return sorted(events)


def _new_delivery(event, destination, now, skipped_because=None):
    return Delivery(
        event=event,
        destination=destination,
        state=State.SKIPPED if skipped_because else State.PENDING,
        reason=skipped_because or "",
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
        finished_at=now if skipped_because else None,
    )


def _network_report(event, now):
    """The claim's delivery to its network's outgoing postback; else None, and the conversion says why."""
    outgoing = note_unreported(event.conversion)
    return None if outgoing is None else _new_delivery(event, outgoing, now)


def note_unreported(conversion):
    """The network postback that reports this claim; else None, and the conversion says why not.

    Also called in a new claim's own transaction (partners.forwarding), so that its answer can say whether
    it will be reported while the worker makes the report's delivery later.
    """
    outgoing = NetworkPostback.objects.filter(network_id=conversion.network_id).first()
    if outgoing is not None and outgoing.sendable:
        return outgoing
    if outgoing is None:
        why = f"not reported: network {conversion.network} has no outgoing postback template"
    else:
        why = f"not reported: network {conversion.network}'s outgoing postback is {outgoing.sending_state}"
    if conversion.not_reported != why:
        conversion.not_reported = why
        Conversion.objects.filter(pk=conversion.pk).update(not_reported=why)
    return None


def report_claim(conversion):
    """The delivery that reports a claim left unreported (its network has an outgoing postback now), or None."""
    event = conversion.events.filter(kind=EventKind.CREATED).first()
    if conversion.source != Source.CLAIM or event is None or not conversion.not_reported:
        return None
    with transaction.atomic():
        report = _network_report(event, timezone.now())
        if report is not None:
            report.save()
            Conversion.objects.filter(pk=conversion.pk).update(not_reported="")
            conversion.not_reported = ""
    return report


def lock(delivery_id):
    """Lock one due delivery for this worker; its lease, or None if it is not due, final, or in flight elsewhere."""
    now = timezone.now()
    lease = uuid4().hex
    locked = Delivery.objects.filter(due(now), pk=delivery_id).update(
        state=State.SENDING, locked_until=now + lock_span(), lease=lease
    )
    return lease if locked == 1 else None


def attempt(delivery_id, task_id=""):
    """One HTTP try of one delivery if this worker can lock it: what became of it (Attempted), else None.

    The drainer (partners/drainer.py) does the same for batches; both prepare and record through here.
    """
    lease = lock(delivery_id)
    if lease is None:
        return None
    prepared = prepare_all(locked(lease), task_id)
    if not prepared:  # closed, waiting for a rate, or recorded as our own failure
        return Attempted(Delivery.objects.values_list("state", flat=True).get(pk=delivery_id))
    outcomes = record_all([(prepared[0], transport.send(prepared[0].request))], task_id)
    return outcomes[0] if outcomes else None


@dataclass
class Prepared:
    delivery: Delivery
    request: OutboundRequest


def prepare_all(locked, task_id="", terms=None):
    """The requests of locked deliveries, ready to send. A delivery that cannot go (its destination was switched off,
    it waits for a rate) is closed or parked here; one our own code fails to render is recorded as a failed
    attempt: a delivery left in `sending` would be sent again by every sweep, with no trace of why. `terms` are the
    sending terms the deliveries were locked with (default: this process's copy, one token read)."""
    terms = terms or sending_terms()
    ready, broken = [], []
    for delivery in locked:
        request = OutboundRequest(method="", url="")
        try:
            destination = delivery.destination = terms.destinations[delivery.destination_id]
            conversion = delivery.event.conversion
            conversion.network = terms.networks[conversion.network_id]
            if destination.disabled_at is not None:
                _park(delivery, parked_because(destination))
                continue
            if not destination.is_active:
                _close(delivery, State.CANCELLED, f"{destination.kind} is inactive")
                continue
            if delivery.amount is None and not _fix_late(delivery, terms):
                continue
            values = event_values(delivery, destination)
            request = build_request(destination, values, delivery.webhook_id, int(time.time()))
            ready.append(Prepared(delivery, request))
        except Exception as exc:
            logger.exception("delivery %s: internal error, recorded as a failed attempt", delivery.pk)
            broken.append((Prepared(delivery, request), transport.internal_error(exc)))
    if broken:
        record_all(broken, task_id)
    return ready


def record_all(finished, task_id="", unwell=None):
    """Record (Prepared, Result) pairs in one transaction: the deliveries' new states, their attempts, the
    destinations' health; what became of each recorded one (Attempted).

    A delivery is recorded only while this worker's lease on it holds: one whose lock ran out and that another
    worker took over (and maybe sent) keeps what that worker records, so a success is never overwritten. The
    UPDATE that records it is conditional on the lease and returns the rows it changed; only those get an attempt.

    `unwell` is the set of destinations the drainer saw with a failing streak or a breaker not closed when it locked
    the batch (None: unknown, every one is checked). A destination outside it that only succeeded has no health to
    change, so the batch writes none.
    """
    if not finished:
        return []
    now = timezone.now()
    verdicts = []
    for prepared, result in finished:
        number = prepared.delivery.attempts + 1
        verdicts.append((prepared, result, number, *_verdict(result, number)))
    with write_transaction():
        ours = _record_states(verdicts, now)
        recorded = [verdict for verdict in verdicts if verdict[0].delivery.pk in ours]
        attempts = [
            {"delivery": prepared.delivery.pk, "number": number, "task_id": task_id, "created_at": now}
            | attempt_fields(prepared.request, result)
            for prepared, result, number, *_rest in recorded
        ]
        _insert_attempts(attempts)
        results = {}
        for prepared, result, *_rest in recorded:
            results.setdefault(prepared.delivery.destination_id, []).append(result.ok)
            if result.status == 410:
                disable(prepared.delivery.destination, f"answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC "
                        f"(delivery {prepared.delivery.pk})")  # fmt: skip
        if unwell is not None:
            results = {pk: oks for pk, oks in results.items() if pk in unwell or not all(oks)}
        _streaks(results, now)
        breaker.record(results, now)
    pairs = [(prepared, result) for prepared, result, *_rest in recorded]
    outcomes = [Attempted(state, retry_in) for *_first, state, _reason, retry_in in recorded]
    metrics.attempts_recorded(pairs, outcomes)
    for (prepared, result), outcome, attempt in zip(pairs, outcomes, attempts, strict=True):
        logger.info(
            "delivery %s to %s: %s in %d ms (%s)",
            prepared.delivery.pk,
            prepared.delivery.destination,
            outcome.state,
            result.duration_ms,
            result.status or result.error,
            extra={"url": attempt["url"]},
        )
    return outcomes


def _insert_attempts(attempts):
    """INSERT attempts (each a dict of DeliveryAttempt's field names and values), one statement for all of them:
    bulk_create() without a model instance per row and the compiling of its statement, which cost a batch's record
    more than the database took to write it (bench/README.md, the drainer's profile)."""
    if not attempts:
        return
    quote = connection.ops.quote_name
    fields = [DeliveryAttempt._meta.get_field(name) for name in attempts[0]]
    sql = (
        f"INSERT INTO {quote(DeliveryAttempt._meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with connection.cursor() as cursor:
        # One parsed statement: psycopg sends the rows in one round trip (a pipeline), sqlite3 loops in C.
        cursor.executemany(
            sql, [[field.get_db_prep_save(row[field.name], connection) for field in fields] for row in attempts]
        )


def _record_states(verdicts, now):
    """Write the deliveries' new states, one conditional UPDATE ... RETURNING per lease and set of identical values
    (a batch's successes mostly share them); the ids of the rows whose lease still held."""
    groups = {}
    for prepared, result, number, state, reason, retry_in in verdicts:
        values = {
            "state": state,
            "reason": reason,
            "attempts": number,
            "locked_until": None,
            "lease": "",
            "updated_at": now,
            "last_status_code": result.status,
            "last_error": result.error,
            "last_error_code": result.error_code,
            "next_attempt_at": now + timedelta(seconds=retry_in or 0),
            "finished_at": None if state == State.RETRYING else now,
        }
        key = (prepared.delivery.lease, tuple(values.items()))
        groups.setdefault(key, []).append(prepared.delivery.pk)
    ours = set()
    with connection.cursor() as cursor:
        for (lease, values), pks in groups.items():
            cursor.execute(*_conditional_update(dict(values), pks, lease))
            ours.update(pk for (pk,) in cursor.fetchall())
    return ours


def _conditional_update(values, pks, lease):
    """The SQL and parameters of an UPDATE of `values` on the deliveries `pks` still in flight under `lease`."""
    quote, fields = connection.ops.quote_name, Delivery._meta
    assignments = ", ".join(f"{quote(fields.get_field(name).column)} = %s" for name in values)
    params = [fields.get_field(name).get_db_prep_save(value, connection) for name, value in values.items()]
    pk, marks = quote(fields.pk.column), ", ".join(["%s"] * len(pks))
    sql = (
        f"UPDATE {quote(fields.db_table)} SET {assignments} "
        f"WHERE {pk} IN ({marks}) AND {quote('state')} = %s AND {quote('lease')} = %s RETURNING {pk}"
    )
    return sql, [*params, *pks, State.SENDING, lease]


def _verdict(result, number):
    """(state, reason, seconds to the next try or None) of the attempt `number` that got `result`."""
    if result.ok:
        return State.SUCCEEDED, "", None
    if result.status == 410:
        return State.FAILED, "the destination answered 410 Gone; it is disabled", None
    retry_in = next_delay(number, result.retry_after)
    if retry_in is None:
        return State.FAILED, f"gave up after {number} attempts: {result.error}", None
    return State.RETRYING, "", retry_in


def _streaks(results, now):
    """A success clears a destination's failing streak; a batch of failures only starts one. Decided in the database,
    not from this process's copy of the destinations, which these writes leave as it is."""
    recovered = [pk for pk, oks in results.items() if any(oks)]
    failing = [pk for pk, oks in results.items() if not any(oks)]
    if recovered:
        Destination.health_writes.filter(pk__in=recovered, failing_since__isnull=False).update(failing_since=None)
    if failing:
        Destination.health_writes.filter(pk__in=failing, failing_since__isnull=True).update(failing_since=now)


def _fix_late(delivery, terms):
    """Amounts for a delivery made without them (before they were fixed at the event); False if it must wait."""
    amounts.fix_existing(delivery, terms.offer_shares)
    waiting = delivery.state == State.WAITING_RATE
    Delivery.objects.filter(pk=delivery.pk).update(
        **{name: getattr(delivery, name) for name in AMOUNT_FIELDS},
        **({"state": State.WAITING_RATE, "locked_until": None} if waiting else {}),
    )
    return not waiting


def next_delay(attempts_made, retry_after=None):
    """Seconds until the next try, from DELIVERY_RETRY_SCHEDULE with jitter; None when attempts are used up."""
    schedule = settings.DELIVERY_RETRY_SCHEDULE
    if attempts_made >= len(schedule):
        return None
    delay = schedule[attempts_made] * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_MAX))
    return delay


def parked_because(destination):
    return (
        f"parked: the {destination.kind} is auto-disabled ({destination.disabled_reason}); re-enable it to replay or "
        "discard"
    )


def _park(delivery, reason):
    Delivery.objects.filter(pk=delivery.pk).update(
        state=State.PARKED, reason=reason, locked_until=None, lease="", updated_at=timezone.now()
    )


def _close(delivery, state, reason):
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        state=state, reason=reason, locked_until=None, lease="", updated_at=now, finished_at=now
    )


def disable(destination, reason):
    Destination.objects.filter(pk=destination.pk, disabled_at__isnull=True).update(
        disabled_at=timezone.now(), disabled_reason=reason
    )


def left_due(grace=None):
    """Whether a delivery should be in flight but is not: the broker lost its wake-up, or a worker died.

    Asked part by part of due() (models.due_parts): each is one probe of an index range, where the OR of them
    would be read as one condition over every due delivery.
    """
    now = timezone.now()
    waited = now - timedelta(seconds=settings.DELIVERY_SWEEP_GRACE if grace is None else grace)
    return any(Delivery.objects.filter(part).exists() for part in due_parts(now, waited))


def disable_failing_destinations():
    """Stop sending to destinations whose every delivery has failed for PARTNER_AUTO_DISABLE_AFTER."""
    cutoff = timezone.now() - timedelta(seconds=settings.PARTNER_AUTO_DISABLE_AFTER)
    failing = Destination.objects.filter(is_active=True, disabled_at=None, failing_since__lt=cutoff)
    for destination in failing:
        disable(destination, f"every delivery has failed since {destination.failing_since:%Y-%m-%d %H:%M} UTC")
    return len(failing)


def resend(delivery):
    """Queue a delivery again now (admin or command). True if queued.

    A succeeded one is never sent twice, one in flight is left alone, a skipped one stays skipped: the
    partner's filters ruled it out, and one waiting for an exchange rate has no amount to send yet.
    """
    now = timezone.now()
    return (
        Delivery.objects.filter(pk=delivery.pk)
        .exclude(state__in=[State.SUCCEEDED, State.SENDING, State.SKIPPED, State.WAITING_RATE])
        .update(state=State.PENDING, reason="", next_attempt_at=now, updated_at=now, finished_at=None)
        == 1
    )
