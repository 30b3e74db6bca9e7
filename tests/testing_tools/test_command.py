"""manage.py send_test_postback: schedules one row; --wait follows it and sets the exit code."""

import json
from io import StringIO

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError

from testing_tools.models import TestPostback

from .conftest import URL


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("send_test_postback", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_schedules_one_row_with_the_given_inputs(partner, queued):
    out, _ = run(
        "--partner",
        str(partner.pk),
        "--username",
        "bob",
        "--offer-name",
        "Zen",
        "--points",
        "30",
        "--payout",
        "1.25",
        "--delay",
        "2",
        "--json",
    )

    data = json.loads(out)
    test = TestPostback.objects.get()
    assert data["id"] == test.pk
    assert (test.username, test.offer_name, test.points, str(test.payout), test.delay_minutes) == (
        "bob",
        "Zen",
        30,
        "1.250000",
        2,
    )
    assert data["state"] == "scheduled"


@pytest.mark.parametrize(
    ("args", "problem"),
    [(["--partner", "999"], "--partner-id"), (["--points", "-5"], "--points"), (["--delay", "x"], "--delay-minutes")],
)
def test_bad_input_is_a_clear_error(partner, args, problem):
    arguments = ["--partner", str(partner.pk), *args] if args[0] != "--partner" else args

    with pytest.raises(CommandError, match=problem):
        run(*arguments)

    assert not TestPostback.objects.exists()


# A real commit, so that the row is queued (and, in-process, sent) before --wait starts to follow it.
@pytest.mark.django_db(transaction=True)
@responses.activate
def test_wait_follows_the_row_and_exits_0_on_success(partner):
    responses.get(URL, body="thanks")

    out, _ = run("--partner", str(partner.pk), "--wait", "--json", "--timeout", "5")

    assert json.loads(out)["state"] == "succeeded"
    assert json.loads(out)["response_body"] == "thanks"


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_wait_exits_1_when_the_partner_fails(partner):
    responses.get(URL, status=500)

    with pytest.raises(SystemExit) as exit_code:
        run("--partner", str(partner.pk), "--wait", "--timeout", "5")

    assert exit_code.value.code == 1


def test_wait_gives_up_when_no_worker_sends_it(partner, queued):
    with pytest.raises(SystemExit):
        run("--partner", str(partner.pk), "--wait", "--timeout", "0")

    assert TestPostback.objects.get().state == "scheduled"
