"""The alerts' Celery task, queued by beat every ALERT_CHECK_EVERY seconds."""

from celery import shared_task

from . import checks


@shared_task(ignore_result=True)
def check():
    checks.run()
