"""The partners' alerts (auto-disabled, failing, backlog) and the operator webhook, sent through their transport.

The conditions read the same rows as the metrics' gauges (partners/gauges.py), so an alert and a graph never
disagree on what "due" means. PartnersConfig.ready registers them (postbacks_project/alerts/registry.py).
"""

import json
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Min, Q

from postbacks_project.alerts import notify, registry

from . import signing, transport
from .models import DUE_STATES, Delivery, DeliveryAttempt, Destination
from .outbound import OutboundRequest

logger = logging.getLogger(__name__)

PARTNER_DISABLED = "partner_disabled"
PARTNER_FAILING = "partner_failing"
BACKLOG = "backlog"


def register():
    registry.register(PARTNER_DISABLED, "partner auto-disabled", partners_disabled)
    registry.register(PARTNER_FAILING, "partner failing", partners_failing)
    registry.register(BACKLOG, "delivery backlog", backlog)
    # A bad secret is an error at start, not a notice that cannot be signed in the middle of an outage.
    if settings.ALERT_WEBHOOK_SECRET:
        try:
            signing.secret_bytes(settings.ALERT_WEBHOOK_SECRET)
        except ValueError as exc:
            raise ImproperlyConfigured(f"ALERT_WEBHOOK_SECRET: {exc}") from None
    registry.add_channel(webhook)


def partners_disabled(now, open_alerts):
    """Active destinations the hub disabled on its own; clears when an admin re-enables (or switches off) one."""
    rows = Destination.objects.filter(is_active=True, disabled_at__isnull=False).values_list(
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
        DeliveryAttempt.objects.filter(created_at__gt=since, created_at__lte=now, delivery__destination__is_active=True)
        .values("delivery__destination_id")
        .annotate(total=Count("id"), ok=Count("id", filter=succeeded))
    )
    counts = {row["delivery__destination_id"]: (row["total"], row["total"] - row["ok"]) for row in rows}
    names = dict(Destination.objects.filter(is_active=True).values_list("pk", "name"))
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


def _latest_attempt_failed(destination_id, now):
    latest = (
        DeliveryAttempt.objects.filter(delivery__destination_id=destination_id, created_at__lte=now)
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
        .values("destination_id", "destination__name")
        .annotate(count=Count("id"), oldest=Min("next_attempt_at"))
    )
    return {
        f"partner:{row['destination_id']}": f"partner {row['destination__name']}: {row['count']} deliveries waiting "
        f"more than {limit} s past their time, the oldest {registry.duration((now - row['oldest']).total_seconds())}"
        for row in rows
    }


def webhook(event, alert):
    """A signed POST to ALERT_WEBHOOK_URL (Standard Webhooks, as partner deliveries), when it is set."""
    if not settings.ALERT_WEBHOOK_URL:
        return
    body = json.dumps(notify.payload(event, alert)).encode()
    headers = {"Content-Type": "application/json"}
    if settings.ALERT_WEBHOOK_SECRET:
        # One id per notice: a receiver that dedupes by webhook-id keeps both the opening and the clearing.
        notice = notify.notice_id(event, alert)
        headers |= signing.headers(settings.ALERT_WEBHOOK_SECRET, notice, int(time.time()), body)
    result = transport.send(OutboundRequest(method="POST", url=settings.ALERT_WEBHOOK_URL, headers=headers, body=body))
    if not result.ok:
        logger.warning("alert %s %s: the webhook notice failed: %s", alert.kind, alert.key, result.error)
