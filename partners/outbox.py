"""The outbox: conversion events not yet routed, made into their deliveries by the worker, once and in order.

The postback's transaction only records the event (receiver.services.open_event). The drain task routes it:
one transaction takes a batch of unrouted events, creates their deliveries (skipped ones with their reason)
and marks the events routed, so an event is routed entirely or not at all, and one whose routing crashed is
taken again by the next run. Routers may run at once: on PostgreSQL each takes events the others have not
locked (FOR NO KEY UPDATE SKIP LOCKED), on SQLite writers take turns (postbacks_project.db). A delivery made
twice is refused by the unique constraint on (event, partner) in any case.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from postbacks_project.db import write_transaction
from receiver.models import ConversionEvent

from . import delivery as deliveries

logger = logging.getLogger(__name__)
BATCH = 200


def unrouted():
    return ConversionEvent.objects.filter(routed_at__isnull=True)


def route_batch(limit=BATCH, exclude=(), only=None):
    """Route up to `limit` events (or event `only`), oldest first, in one transaction; return (events routed,
    deliveries pending).

    An event is taken only once every earlier event of its conversion is routed (committed, not merely locked
    by another router): the drainer holds a later event's delivery back while an earlier one to the same partner
    is unfinished, which works only if the earlier deliveries exist first, and a later event's amounts take back
    what the earlier ones' deliveries hold.
    """
    if not unrouted().exists():
        return 0, 0  # the usual answer, read without queueing for SQLite's write lock
    with write_transaction():
        batch = _ready().exclude(pk__in=exclude) if only is None else _ready().filter(pk=only)
        if connection.features.has_select_for_update_skip_locked:
            # NO KEY: a router changes no key of its events, so rows that reference them are not held up.
            batch = batch.select_for_update(skip_locked=True, no_key=True, of=("self",))
        events = list(batch.select_related("conversion__known_click", "conversion__offer")[:limit])
        if not events:
            return 0, 0
        pending = deliveries.create_for_events(events)
        ConversionEvent.objects.filter(pk__in=[event.pk for event in events]).update(routed_at=timezone.now())
    return len(events), pending


def route(budget=None):
    """Route batches until none is left or `budget` seconds have passed; return whether the budget ran out first.

    A batch that fails is routed again one event at a time, so that an event our code cannot route holds back
    only its own conversion's later events, not every partner's deliveries; it is logged and tried again by the
    next run.
    """
    deadline = time.monotonic() + (settings.DELIVERY_DRAIN_SECONDS if budget is None else budget)
    failed = set()
    while True:
        try:
            routed, _pending = route_batch(exclude=failed)
        except Exception:
            logger.exception("routing a batch of events failed; routing them one by one")
            routed = _one_by_one(failed)
        if not routed:
            return False
        if time.monotonic() >= deadline:
            return True


def _one_by_one(failed):
    """How many of the next batch's events were routed, each on its own; those that fail are added to `failed`."""
    routed = 0
    for pk in _ready().exclude(pk__in=failed).values_list("pk", flat=True)[:BATCH]:
        try:
            routed += route_batch(only=pk)[0]
        except Exception:
            logger.exception("event %s could not be routed; the next run tries again", pk)
            failed.add(pk)
    return routed


def _ready():
    """Unrouted events whose conversion has no earlier unrouted event, oldest first."""
    earlier = unrouted().filter(conversion_id=OuterRef("conversion_id"), id__lt=OuterRef("id"))
    return unrouted().filter(~Exists(earlier)).order_by("id")


def left_unrouted(grace=None):
    """Whether events wait for routing longer than the sweep's grace: their wake-up was lost with the broker."""
    waited = timezone.now() - timedelta(seconds=settings.DELIVERY_SWEEP_GRACE if grace is None else grace)
    return unrouted().filter(created_at__lte=waited).exists()
