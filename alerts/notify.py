"""Notices: an email to ALERT_EMAILS (else ADMINS) and a signed POST to ALERT_WEBHOOK_URL through the one transport."""

import json
import logging
import smtplib
import time

from django.conf import settings
from django.core import mail

from partners import signing, transport
from partners.outbound import OutboundRequest

logger = logging.getLogger(__name__)


def send(event, alert):
    """Tell the operator that `alert` opened or closed (`event`); a notice that cannot go out is logged, not retried:
    the alert's row is the record, and the next change sends the next notice."""
    _email(event, alert)
    if settings.ALERT_WEBHOOK_URL:
        _webhook(event, alert)


def subject(event, alert):
    what = alert.get_kind_display()
    if event == "opened":
        return f"[postback hub] {what}: {alert.last_message}"
    return f"[postback hub] recovered: {what} ({alert.key})"


def _email(event, alert):
    recipients = settings.ALERT_EMAILS or [address for _, address in settings.ADMINS]
    if not recipients:
        logger.warning("alert %s %s: no ALERT_EMAILS or ADMINS to email", alert.kind, alert.key)
        return
    opened = f"{alert.opened_at:%Y-%m-%d %H:%M:%S} UTC"
    if event == "opened":
        body = f"{alert.last_message}\n\nSince {opened}. You will get one more email when it clears.\n"
    else:
        cleared = f"{alert.closed_at:%Y-%m-%d %H:%M:%S} UTC"
        body = f"Cleared at {cleared}, open since {opened}.\n\nLast seen while open: {alert.last_message}\n"
    try:
        mail.send_mail(subject(event, alert), body, None, recipients)
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("alert %s %s: the email was not sent: %s", alert.kind, alert.key, exc)


def payload(event, alert):
    return {
        "type": f"alert.{event}",
        "kind": alert.kind,
        "key": alert.key,
        "message": alert.last_message,
        "opened_at": alert.opened_at.isoformat(),
        "closed_at": alert.closed_at.isoformat() if alert.closed_at else None,
    }


def _webhook(event, alert):
    body = json.dumps(payload(event, alert)).encode()
    headers = {"Content-Type": "application/json"}
    if settings.ALERT_WEBHOOK_SECRET:
        # One id per notice: a receiver that dedupes by webhook-id keeps both the opening and the clearing.
        headers |= signing.headers(settings.ALERT_WEBHOOK_SECRET, f"alert_{alert.pk}_{event}", int(time.time()), body)
    result = transport.send(OutboundRequest(method="POST", url=settings.ALERT_WEBHOOK_URL, headers=headers, body=body))
    if not result.ok:
        logger.warning("alert %s %s: the webhook notice failed: %s", alert.kind, alert.key, result.error)
