"""manage.py send_test_postback: schedule one test postback; with --wait, follow it to its end."""

import time

from django.core.management.base import BaseCommand, CommandError

from postbacks_project.cli import emit
from testing_tools import services
from testing_tools.models import FINAL_TEST_STATES, TestPostback, TestState
from testing_tools.serializers import TestPostbackSerializer, TestRowSerializer

POLL_SECONDS = 0.5


class Command(BaseCommand):
    help = "Schedule one test postback to a partner (a worker sends it); --wait follows it and sets the exit code."

    def add_arguments(self, parser):
        parser.add_argument("--partner", required=True, metavar="ID")
        parser.add_argument("--username", default="test-user")
        parser.add_argument("--offer-name", default="Test offer")
        parser.add_argument("--points", default="0")
        parser.add_argument("--payout")
        parser.add_argument("--status", default="approved")
        parser.add_argument("--delay", default="0", metavar="MIN", help="minutes to wait before sending")
        parser.add_argument("--wait", action="store_true", help="follow the row; exit 0 on success, 1 on failure")
        parser.add_argument("--timeout", type=float, default=120, help="seconds --wait gives a worker after the delay")
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        row = {
            "partner_id": opts["partner"],
            "username": opts["username"],
            "offer_name": opts["offer_name"],
            "points": opts["points"],
            "status": opts["status"],
            "delay_minutes": opts["delay"],
        }
        if opts["payout"] is not None:
            row["payout"] = opts["payout"]
        incoming = TestRowSerializer(data=row)
        if not incoming.is_valid():
            lines = [
                f"--{name.replace('_', '-')}: {' '.join(map(str, errors))}" for name, errors in incoming.errors.items()
            ]
            raise CommandError("invalid input:\n  " + "\n  ".join(lines))
        batch = services.schedule_batch([incoming.validated_data])
        test = TestPostback.objects.get(batch=batch)
        if opts["wait"]:
            test = self.follow(test, opts)
        emit(self, TestPostbackSerializer(test).data, opts["json"])
        if opts["wait"] and test.state != TestState.SUCCEEDED:
            raise SystemExit(1)

    def follow(self, test, opts):
        deadline = time.monotonic() + test.delay_minutes * 60 + opts["timeout"]
        seen = None
        while True:
            test.refresh_from_db()
            if test.state != seen and not opts["json"]:
                self.stderr.write(f"{test.state}")
                seen = test.state
            if test.state in FINAL_TEST_STATES:
                return test
            if time.monotonic() > deadline:
                self.stderr.write("no worker sent it in time: is the Celery worker running? (make run starts one)")
                return test
            time.sleep(POLL_SECONDS)
