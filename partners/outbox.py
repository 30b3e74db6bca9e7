"""The outbox: conversion events not yet routed, made into their deliveries by the worker, once and in order.

The postback's transaction only records the event (receiver.services.open_event). The drain task routes it:
one transaction takes a batch of unrouted events, creates their deliveries (skipped ones with their reason)
and marks the events routed, so an event is routed entirely or not at all, and one whose routing crashed is
taken again by the next run. Routers may run at once: on PostgreSQL each takes events the others have not
locked (FOR UPDATE SKIP LOCKED), on SQLite writers take turns (postbacks_project.db). A delivery made twice
is refused by the unique constraint on (event, partner) in any case.
"""

import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from postbacks_project.db import write_transaction
from receiver.models import ConversionEvent

from . import delivery as deliveries

BATCH = 200


def unrouted():
    return ConversionEvent.objects.filter(routed_at__isnull=True)


def route_batch(limit=BATCH):
    """Route up to `limit` events, oldest first, in one transaction; return (events routed, deliveries pending).

    An event is taken only once every earlier event of its conversion is routed (committed, not merely locked
    by another router): the drainer holds a later event's delivery back while an earlier one to the same partner
    is unfinished, which works only if the earlier deliveries exist first, and a later event's amounts take back
    what the earlier ones' deliveries hold.
    """
    if not unrouted().exists():
        return 0, 0  # the usual answer, read without queueing for SQLite's write lock
    earlier = unrouted().filter(conversion_id=OuterRef("conversion_id"), id__lt=OuterRef("id"))
    with write_transaction():
        batch = unrouted().filter(~Exists(earlier)).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            batch = batch.select_for_update(skip_locked=True, of=("self",))
        events = list(batch.select_related("conversion__known_click", "conversion__offer")[:limit])
        if not events:
            return 0, 0
        pending = deliveries.create_for_events(events)
        ConversionEvent.objects.filter(pk__in=[event.pk for event in events]).update(routed_at=timezone.now())
    return len(events), pending


def route(budget=None):
    """Route batches until none is left or `budget` seconds have passed; return how many deliveries are pending."""
    deadline = time.monotonic() + (settings.DELIVERY_DRAIN_SECONDS if budget is None else budget)
    pending = 0
    while True:
        routed, made = route_batch()
        pending += made
        if not routed or time.monotonic() >= deadline:
            return pending


def left_unrouted(grace=None):
    """Whether events wait for routing longer than the sweep's grace: their wake-up was lost with the broker."""
    waited = timezone.now() - timedelta(seconds=settings.DELIVERY_SWEEP_GRACE if grace is None else grace)
    return unrouted().filter(created_at__lte=waited).exists()
