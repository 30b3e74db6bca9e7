"""The Celery task that sends one scheduled test postback (never retried: the admin wants the truth)."""

from celery import shared_task
from django.conf import settings

from postbacks_project.enqueue import enqueue

from . import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_test_postback(test_id):
    services.send(test_id)


@shared_task(ignore_result=True)
def sweep_test_postbacks():
    """Queue again the rows whose task the broker lost; a row is still sent at most once (services.send claims it)."""
    for pk in services.overdue(settings.DELIVERY_SWEEP_GRACE):
        enqueue(send_test_postback, pk)
