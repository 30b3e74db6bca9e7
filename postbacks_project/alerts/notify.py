"""Notices: an email to ALERT_EMAILS (else ADMINS), then each channel the apps registered (the operator webhook)."""

import hashlib
import logging
import smtplib

from django.conf import settings
from django.core import mail

from . import registry

logger = logging.getLogger(__name__)


def send(event, alert):
    """Tell the operator that `alert` opened or closed (`event`); a notice that cannot go out is logged, not retried:
    the alert's row is the record, and the next change sends the next notice. Nothing here reads the database, so a
    worker that cannot reach it still sends the notice that says so."""
    _email(event, alert)
    for channel in registry.CHANNELS:
        channel(event, alert)


def subject(event, alert):
    if event == "opened":
        return f"[postback hub] {alert.label}: {alert.last_message}"
    return f"[postback hub] recovered: {alert.label} ({alert.key})"


def notice_id(event, alert):
    """The same for a notice sent again, different for the opening and the clearing (and for the next opening)."""
    digest = hashlib.sha256(f"{alert.kind}\n{alert.key}\n{alert.opened_at.isoformat()}".encode()).hexdigest()
    return f"alert_{digest[:24]}_{event}"


def payload(event, alert):
    return {
        "type": f"alert.{event}",
        "kind": alert.kind,
        "key": alert.key,
        "message": alert.last_message,
        "opened_at": alert.opened_at.isoformat(),
        "closed_at": alert.closed_at.isoformat() if alert.closed_at else None,
    }


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
