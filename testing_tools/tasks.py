"""The Celery task that sends one scheduled test postback (never retried: the admin wants the truth)."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_test_postback(test_id):
    services.send(test_id)
