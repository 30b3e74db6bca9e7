"""One round of checks: open an alert for each condition that started, close each that cleared, then notify."""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import notify, registry
from .models import Alert

logger = logging.getLogger(__name__)


def run(now=None):
    """Check every condition at `now`; returns the (event, alert) pairs notified, event being opened or closed."""
    now = now or timezone.now()
    changes = []
    for kind, condition in registry.conditions().items():
        open_alerts = {alert.key: alert for alert in Alert.objects.filter(kind=kind, closed_at=None)}
        holding = condition(now, open_alerts)
        for key, message in holding.items():
            alert = open_alerts.get(key)
            if alert is None:
                try:
                    with transaction.atomic():
                        alert = Alert.objects.create(kind=kind, key=key, opened_at=now, last_message=message)
                except IntegrityError:
                    continue  # a check running beside this one opened it, and sends its notice
                changes.append(("opened", alert))
            elif alert.last_message != message:
                Alert.objects.filter(pk=alert.pk).update(last_message=message)
        for key, alert in open_alerts.items():
            # Closed by whichever check's UPDATE changes the row: the "cleared" notice goes out once.
            if key not in holding and Alert.objects.filter(pk=alert.pk, closed_at=None).update(closed_at=now):
                alert.closed_at = now
                changes.append(("closed", alert))
    for event, alert in changes:
        logger.info("alert %s: %s %s: %s", event, alert.kind, alert.key, alert.last_message)
        notify.send(event, alert)
    return changes
