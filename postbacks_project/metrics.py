"""The hub's Prometheus metrics: one owner of the counters, the doors that move them, and the scrape's text.

Counters and histograms are written by every web and worker process into PROMETHEUS_MULTIPROC_DIR (settings) and
summed at scrape time by prometheus_client's MultiProcessCollector. Labels are ids of configured objects (a network,
a partner), fixed codes (outcomes, reasons, states) and currency codes: never a click id, a key or a URL, so the
number of series stays bounded by the configuration.
"""

from decimal import Decimal

from django.conf import settings
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

NO_NETWORK = "none"  # a request whose key names no network

postbacks_received = Counter(
    "postbacks_received",
    "Requests the receiver stored, by network id, source (postback or claim), outcome and reason code.",
    ["network", "source", "outcome", "reason"],
    registry=None,
)
request_duration = Histogram(
    "postback_request_duration_seconds",
    "Time the receiver took to answer a postback or claim, by source and HTTP status (503s, never stored, too).",
    ["source", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=None,
)
conversions = Counter(
    "conversions",
    "Conversions made or moved to a status, by network id and the status reached (test conversions not counted).",
    ["network", "status"],
    registry=None,
)
payout = Counter(
    "payout",
    "Approved payout gained, in the conversion's currency: approvals and raised payouts of approved conversions.",
    ["network", "currency"],
    registry=None,
)
payout_taken_back = Counter(
    "payout_taken_back",
    "Approved payout lost, in the conversion's currency: reversals, rejections after approval, lowered payouts.",
    ["network", "currency"],
    registry=None,
)
deliveries = Counter(
    "deliveries",
    "Deliveries closed by an attempt, by partner id and final state (succeeded or failed).",
    ["partner", "state"],
    registry=None,
)
attempts = Counter(
    "delivery_attempts",
    "Delivery attempts, by partner id and result: success, http_4xx, http_5xx, http_other, or error (no answer).",
    ["partner", "result"],
    registry=None,
)
attempt_duration = Histogram(
    "delivery_attempt_duration_seconds",
    "Time a partner took to answer an attempt (or to fail it), by partner id.",
    ["partner"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=None,
)

APPROVED = "approved"
CLOSED_STATES = ("succeeded", "failed")


def postback_stored(row):
    """A ReceivedPostback row was saved (call it once its transaction has committed)."""
    network = str(row.network_id) if row.network_id is not None else NO_NETWORK
    postbacks_received.labels(network, row.source, row.outcome, row.reason).inc()


def request_answered(source, status, seconds):
    request_duration.labels(source, str(status)).observe(seconds)


def conversion_recorded(conversion, previous_status="", previous_payout=None):
    """A conversion was made (no previous status) or changed status or payout; test conversions are not counted.

    What the network owes us moves by the approved payout after minus before: a gain goes to payout_total, a loss
    to payout_taken_back_total, so that the two net to the approved payout (counters never go down). Decimal until
    here; Prometheus keeps floats, which is fine for a dashboard and never used as money.
    """
    if conversion.is_test:
        return
    network = str(conversion.network_id)
    if conversion.status != previous_status:
        conversions.labels(network, conversion.status).inc()
    before = (previous_payout or Decimal(0)) if previous_status == APPROVED else Decimal(0)
    after = conversion.payout if conversion.status == APPROVED else Decimal(0)
    if after > before:
        payout.labels(network, conversion.currency).inc(float(after - before))
    elif after < before:
        payout_taken_back.labels(network, conversion.currency).inc(float(before - after))


def attempts_recorded(recorded, outcomes):
    """Attempts recorded by partners.delivery.record_all(): its (Prepared, Result) pairs and their Outcomes."""
    for (prepared, result), outcome in zip(recorded, outcomes, strict=True):
        partner = str(prepared.delivery.destination_id)
        attempts.labels(partner, attempt_result(result)).inc()
        attempt_duration.labels(partner).observe(result.duration_ms / 1000)
        if outcome.state in CLOSED_STATES:
            deliveries.labels(partner, outcome.state).inc()


def attempt_result(result):
    if result.ok:
        return "success"
    if result.status is None:
        return "error"
    if 400 <= result.status < 600:
        return f"http_{result.status // 100}xx"
    return "http_other"


def scrape(*collectors):
    """The text exposition of every process's counters (this machine's METRICS_DIR) plus `collectors`' samples."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(settings.METRICS_DIR))
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)
