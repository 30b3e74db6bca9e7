"""Gauges read from the database at scrape time: the delivery backlog, partners' health, networks' silence.

They are computed by whichever process answers the scrape, from the one database, so every web process reports the
same values (Prometheus's `max` across them is the figure). A few grouped queries per scrape, on indexed columns.
"""

import logging

from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from receiver.models import Network, Outcome, ReceivedPostback, Source

from .models import DUE_STATES, Breaker, Delivery, Destination, DestinationHealth, State

logger = logging.getLogger(__name__)


class DatabaseCollector:
    """A prometheus_client custom collector, registered on each scrape's own registry (postbacks_project.metrics)."""

    def collect(self):
        ok = GaugeMetricFamily("metrics_database_ok", "1 when the scrape could read the database's gauges, else 0.")
        try:
            families = [*_delivery_gauges(), *_partner_gauges(), *_network_gauges()]
        except DatabaseError as exc:
            logger.warning("metrics: the database gauges could not be read: %s", type(exc).__name__)
            ok.add_metric([], 0)
            yield ok
            return
        ok.add_metric([], 1)
        yield ok
        yield from families


def _delivery_gauges():
    now = timezone.now()
    due = GaugeMetricFamily(
        "deliveries_due",
        "Deliveries due (pending or retrying, their time come) but not sent, by destination (partner) id.",
        labels=["partner"],
    )
    oldest = GaugeMetricFamily(
        "deliveries_due_oldest_age_seconds",
        "Seconds the oldest due delivery has waited past its time, by destination (partner) id (0: none due).",
        labels=["partner"],
    )
    parked = GaugeMetricFamily(
        "deliveries_parked",
        "Deliveries parked while their destination is auto-disabled, by destination (partner) id.",
        labels=["partner"],
    )
    rows = Delivery.objects.filter(state__in=DUE_STATES, next_attempt_at__lte=now).values("destination_id")
    backlog = {row["destination_id"]: row for row in rows.annotate(count=Count("id"), oldest=Min("next_attempt_at"))}
    waiting = dict(
        Delivery.objects.filter(state=State.PARKED)
        .values("destination_id")
        .annotate(count=Count("id"))
        .values_list("destination_id", "count")
    )
    active = set(Destination.objects.filter(is_active=True).values_list("pk", flat=True))
    for pk in sorted(active | backlog.keys() | waiting.keys()):
        row = backlog.get(pk)
        due.add_metric([str(pk)], row["count"] if row else 0)
        oldest.add_metric([str(pk)], (now - row["oldest"]).total_seconds() if row else 0)
        parked.add_metric([str(pk)], waiting.get(pk, 0))
    return due, oldest, parked


def _partner_gauges():
    """Per active destination: the partners, and the networks' own postbacks (slug empty), under the label partner."""
    destinations = Destination.objects.filter(is_active=True)
    partners = list(destinations.values_list("pk", "partner__slug", "name", "disabled_at"))
    tripped = set(DestinationHealth.objects.exclude(breaker=Breaker.CLOSED).values_list("destination_id", flat=True))
    info = GaugeMetricFamily(
        "partner_info", "1 per active destination: its id, slug and name.", labels=["partner", "slug", "name"]
    )
    breaker = GaugeMetricFamily(
        "partner_breaker_open", "1 when the partner's circuit breaker is open or half-open, else 0.", labels=["partner"]
    )
    disabled = GaugeMetricFamily(
        "partner_auto_disabled", "1 when the hub stopped sending to the partner on its own, else 0.", labels=["partner"]
    )
    for pk, slug, name, disabled_at in partners:
        info.add_metric([str(pk), slug or "", name], 1)
        breaker.add_metric([str(pk)], int(pk in tripped))
        disabled.add_metric([str(pk)], int(disabled_at is not None))
    open_count = GaugeMetricFamily("partners_breaker_open", "Active partners whose breaker is not closed.")
    open_count.add_metric([], sum(1 for partner in partners if partner[0] in tripped))
    disabled_count = GaugeMetricFamily("partners_auto_disabled", "Active partners the hub auto-disabled.")
    disabled_count.add_metric([], sum(1 for partner in partners if partner[3] is not None))
    return info, breaker, disabled, open_count, disabled_count


def _network_gauges():
    """Per active network, the seconds since its last postback that was not rejected (a network that never sent one
    has no sample: its silence has no start)."""
    now = timezone.now()
    info = GaugeMetricFamily("network_info", "1 per active network: its id and name.", labels=["network", "name"])
    silence = GaugeMetricFamily(
        "network_last_postback_age_seconds",
        "Seconds since the network's last postback that was accepted (or a duplicate or a status change), by id.",
        labels=["network"],
    )
    heard = ReceivedPostback.objects.filter(source=Source.POSTBACK).exclude(outcome=Outcome.REJECTED)
    for pk, name in Network.objects.filter(is_active=True).values_list("pk", "name").order_by("pk"):
        info.add_metric([str(pk), name], 1)
        # One network at a time, newest first: the (network, -received_at) index finds it without a scan.
        last = heard.filter(network_id=pk).order_by("-received_at").values_list("received_at", flat=True).first()
        if last is not None:
            silence.add_metric([str(pk)], (now - last).total_seconds())
    return info, silence
