"""manage.py claim: support staff record a claim exactly as the API would, and a repeat is a duplicate."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from receiver import ledger
from receiver.models import Conversion, ReceivedPostback, Source


def run(*args):
    out = StringIO()
    call_command("claim", *args, stdout=out)
    return out.getvalue()


def test_the_command_claims_once_and_reports_a_repeat_as_duplicate(offer):
    first = json.loads(run("--offer", str(offer.pk), "--click-id", "CLICK123", "--user", "alice", "--json"))
    again = json.loads(run("--offer", str(offer.pk), "--click-id", "CLICK123", "--user", "alice", "--json"))

    conversion = Conversion.objects.get()
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    assert first["conversionId"] == again["conversionId"] == conversion.pk
    assert (conversion.source, conversion.status, conversion.goal) == (Source.CLAIM, "approved", "")
    assert ledger.balance("alice") == 250
    rows = list(ReceivedPostback.objects.order_by("id").values_list("method", "source", "outcome"))
    assert rows == [("CLI", "claim", "accepted"), ("CLI", "claim", "duplicate")]


def test_the_command_prints_a_table_with_the_goal_and_why_it_was_not_reported(offer):
    out = run("--offer", str(offer.pk), "--click-id", "C1", "--user", "bob", "--goal", "purchase", "--payout", "9.5")

    assert "goal               purchase" in out
    assert "notReportedReason  not reported: network Acme Network has no outgoing postback template" in out
    assert Conversion.objects.get().payout == 9.5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--offer", "999", "--click-id", "C1", "--user", "u"], "no offer with id 999"),
        (["--click-id", "C1", "--user", "u", "--payout", "x"], "payout 'x' is not a decimal number"),
    ],
)
def test_the_command_refuses_bad_input_clearly(offer, args, message):
    if "--offer" not in args:
        args = ["--offer", str(offer.pk), *args]

    with pytest.raises(CommandError, match=message):
        run(*args)
