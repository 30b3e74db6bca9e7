"""The partners' management commands: create_partner, check_partners, partner_logs, redeliver."""

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners import signing
from partners.models import Delivery, DeliveryAttempt, Partner
from partners.templating import known_macros_text

URL = "https://wall.example/pb"


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """call_command's output; what a command queues after commit is sent (in-process) before it returns."""

    def call(*args):
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command(*args, stdout=out)
        return out.getvalue()

    return call


@pytest.fixture
def run_json(run):
    return lambda *args: json.loads(run(*args, "--json"))


@pytest.fixture
def partner(db):
    return Partner.objects.create(name="Wall", slug="wall", postback_url=URL + "?click={click_id}&token=s3cr3t-token")


@pytest.fixture
def convert(client, network, django_capture_on_commit_callbacks):
    def send(answer=200, **params):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            mock.get(URL, status=answer)
            with django_capture_on_commit_callbacks(execute=True):
                client.get(f"/postback/{network.key}/", {"click_id": "c-1", "payout": "2.00", **params})
        return Delivery.objects.order_by("-id").first()

    return send


@pytest.fixture
def failed(settings, partner, convert):
    settings.DELIVERY_RETRY_SCHEDULE = [0]
    delivery = convert(answer=500, transaction_id="t-failed")
    delivery.refresh_from_db()
    assert delivery.state == "failed"
    return delivery


@pytest.fixture
def succeeded(partner, convert):
    delivery = convert(transaction_id="t-ok")
    delivery.refresh_from_db()
    assert delivery.state == "succeeded"
    return delivery


# create_partner


def test_create_partner_prints_id_name_and_url_as_json(run_json, db):
    data = run_json("create_partner", "Wall", "--url", URL + "?c={click_id}")

    partner = Partner.objects.get()
    assert data == {"id": partner.pk, "name": "Wall", "url": URL + "?c={click_id}"}


def test_create_partner_prints_a_table_by_default(run, db):
    output = run("create_partner", "Wall", "--url", URL)

    lines = dict(line.split(None, 1) for line in output.splitlines())
    assert lines == {"id": str(Partner.objects.get().pk), "name": "Wall", "url": URL}


def test_create_partner_stores_defaults_without_options(run, db):
    run("create_partner", "Wall", "--url", URL)

    partner = Partner.objects.get()
    assert (partner.method, partner.body_type, partner.scope, partner.is_active) == ("GET", "form", "all", True)
    assert (partner.share_type, partner.share_value) == ("percent", Decimal(100))
    assert (partner.points_mode, partner.points_value) == ("rate", Decimal(0))
    assert (partner.signing_secret, partner.slug, partner.headers) == ("", None, {})


def test_create_partner_stores_every_option(run, db):
    secret = signing.generate_secret()

    run(
        "create_partner",
        "Wall",
        "--url",
        URL,
        "--method",
        "post",
        "--body",
        '{"click": "{click_id}", "amount": {payout}}',
        "--content-type",
        "json",
        "--share-fixed",
        "1.25",
        "--points-fixed",
        "50",
        "--signing-secret",
        secret,
        "--only-own-clicks",
        "--slug",
        "wall",
        "--header",
        "X-Token=abc=def",
        "--inactive",
    )

    partner = Partner.objects.get()
    assert (partner.method, partner.body_type, partner.body_template) == (
        "POST",
        "json",
        '{"click": "{click_id}", "amount": {payout}}',
    )
    assert (partner.share_type, partner.share_value) == ("fixed", Decimal("1.25"))
    assert (partner.points_mode, partner.points_value) == ("fixed", Decimal(50))
    assert (partner.signing_secret, partner.scope, partner.slug) == (secret, "own_clicks", "wall")
    assert partner.headers == {"X-Token": "abc=def"}
    assert partner.is_active is False


def test_create_partner_keeps_percent_and_rate_exact_as_decimals(run, db):
    run("create_partner", "Wall", "--url", URL, "--share-percent", "33.333333", "--points-rate", "0.1")

    partner = Partner.objects.get()
    assert (partner.share_value, partner.points_value) == (Decimal("33.333333"), Decimal("0.1"))


def test_create_partner_prints_a_generated_secret_once_and_stores_it(run_json, run, db):
    data = run_json("create_partner", "Wall", "--url", URL, "--generate-secret")
    plain = run_json("create_partner", "Quiz", "--url", URL, "--signing-secret", signing.generate_secret())

    assert data["signing_secret"] == Partner.objects.get(name="Wall").signing_secret
    assert len(signing.secret_bytes(data["signing_secret"])) >= signing.MIN_SECRET_BYTES
    assert "signing_secret" not in plain


@responses.activate
def test_a_created_partner_receives_conversions_through_its_template(
    run_json, client, network, django_capture_on_commit_callbacks
):
    run_json("create_partner", "Wall", "--url", URL + "?c={click_id}&p={payout}", "--share-percent", "50")
    responses.get(URL)

    with django_capture_on_commit_callbacks(execute=True):
        client.get(f"/postback/{network.key}/", {"click_id": "a b", "payout": "3"})

    assert [call.request.url for call in responses.calls] == [URL + "?c=a%20b&p=1.50"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--url", URL + "?c={clickid}"],
            "postback_url: unknown macro {clickid}; known macros: " + known_macros_text(),
        ),
        (["--url", "not a url"], "postback_url: not a valid http(s) URL"),
        (["--url", URL, "--body", "a={click_id}"], "body_template: a body template needs the POST method"),
        (["--url", URL, "--share-percent", "lots"], "--share-percent 'lots' is not a decimal number such as 70"),
        (["--url", URL, "--share-fixed", "NaN"], "--share-fixed 'NaN' is not a decimal number such as 1.50"),
        (["--url", URL, "--points-rate", "1,5"], "--points-rate '1,5' is not a decimal number"),
        (["--url", URL, "--points-fixed", "Infinity"], "--points-fixed 'Infinity' is not a decimal number"),
        (["--url", URL, "--share-percent", "150"], "share_value: a percentage share is between 0 and 100"),
        (["--url", URL, "--share-fixed", "-1"], "share_value: Ensure this value is greater than or equal to 0"),
        (["--url", URL, "--signing-secret", "hunter2"], "signing_secret: a signing secret starts with whsec_"),
        (["--url", URL, "--header", "X-Token"], "--header expects A=B, got 'X-Token'"),
        (["--url", URL, "--header", "X Token=1"], "headers: header 'X Token' needs a name without spaces"),
        (["--url", URL, "--only-own-clicks"], "--only-own-clicks needs --slug"),
        (["--url", URL, "--slug", "no spaces allowed"], "slug: Enter a valid “slug”"),
        (["--url", URL, "--method", "PUT"], "invalid choice: 'PUT'"),
        (["--url", URL, "--share-percent", "1", "--share-fixed", "1"], "not allowed with argument --share-percent"),
        (["--url", URL, "--generate-secret", "--signing-secret", "x"], "not allowed with argument --generate-secret"),
        ([], "the following arguments are required: --url"),
    ],
)
def test_create_partner_rejects_bad_input_with_a_clear_message_and_creates_nothing(run, db, args, message):
    with pytest.raises(CommandError) as excinfo:
        run("create_partner", "Wall", *args)

    assert message in str(excinfo.value)
    assert not Partner.objects.exists()


def test_create_partner_rejects_a_name_that_is_taken(run, partner):
    with pytest.raises(CommandError, match="name: Destination with this Name already exists"):
        run("create_partner", "Wall", "--url", URL)


# check_partners


def test_check_partners_lists_every_partner_with_its_health(run_json, failed, succeeded, partner):
    quiet = Partner.objects.create(name="Quiet", postback_url=URL + "?q={click_id}", is_active=False)

    data = run_json("check_partners")

    assert [row["name"] for row in data] == ["Quiet", "Wall"]
    quiet_row, wall_row = data
    assert quiet_row == {
        "id": quiet.pk,
        "name": "Quiet",
        "active": False,
        "state": "inactive",
        "template": URL + "?q={click_id}",
        "method": "GET",
        "last_delivery_at": None,
        "last_delivery_state": None,
        "attempts_24h": 0,
        "succeeded_24h": 0,
        "success_rate_24h": None,
        "failing_since": None,
        "breaker": "closed",
        "consecutive_failures": 0,
        "probe_at": None,
        "disabled_at": None,
        "disabled_reason": "",
    }
    assert wall_row["last_delivery_at"] == succeeded.created_at.isoformat()
    assert wall_row["last_delivery_state"] == "succeeded"
    assert (wall_row["attempts_24h"], wall_row["succeeded_24h"], wall_row["success_rate_24h"]) == (2, 1, 0.5)


def test_check_partners_counts_only_the_last_24_hours(run_json, failed, succeeded):
    DeliveryAttempt.objects.filter(delivery=failed).update(created_at=timezone.now() - timedelta(hours=25))

    (row,) = run_json("check_partners")

    assert (row["attempts_24h"], row["succeeded_24h"], row["success_rate_24h"]) == (1, 1, 1.0)


def test_check_partners_shows_the_auto_disable_state_and_reason(run_json, run, partner):
    Partner.objects.filter(pk=partner.pk).update(disabled_at=timezone.now(), disabled_reason="answered 410 Gone")

    (row,) = run_json("check_partners")
    table = run("check_partners")

    assert (row["state"], row["disabled_reason"]) == ("auto-disabled", "answered 410 Gone")
    assert row["disabled_at"] is not None
    assert "auto-disabled" in table
    assert "answered 410 Gone" in table


def test_check_partners_prints_a_table_by_default(run, failed, succeeded):
    header, row = run("check_partners").splitlines()

    assert header.split() == [
        "id",
        "name",
        "state",
        "breaker",
        "last_delivery",
        "success_24h",
        "disabled_reason",
        "template",
    ]
    assert "Wall" in row
    assert "sending" in row
    assert "succeeded" in row
    assert "1/2 (50%)" in row
    assert URL in row


def test_check_partners_says_so_when_there_are_none(run, db):
    assert run("check_partners").strip() == "(nothing)"


def test_check_partners_aggregates_in_the_database(run, failed, succeeded):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            run("check_partners", "--json")
        return len(captured)

    few = queries()
    for n in range(5):
        Partner.objects.create(name=f"Extra {n}", postback_url=URL)

    assert queries() == few == 1


# partner_logs


def test_partner_logs_lists_deliveries_newest_first_with_the_documented_json_keys(run_json, failed, succeeded):
    data = run_json("partner_logs")

    assert [row["id"] for row in data] == [succeeded.pk, failed.pk]
    assert data[1] == {
        "id": failed.pk,
        "created_at": failed.created_at.isoformat(),
        "partner": "Wall",
        "conversion_id": failed.event.conversion_id,
        "event": "conversion",
        "state": "failed",
        "attempts": 1,
        "last_status_code": 500,
        "last_error": "HTTP 500 Internal Server Error",
        "url": URL + "?click=c-1&token=s3cr%E2%80%A6",
    }


def test_partner_logs_names_status_changes_and_has_no_url_before_an_attempt(run_json, partner, convert):
    convert(transaction_id="t1", status="pending")
    Partner.objects.filter(pk=partner.pk).update(statuses=["pending"])
    convert(transaction_id="t1", status="approved")

    skipped, sent = run_json("partner_logs")

    assert (skipped["event"], skipped["state"], skipped["url"]) == ("status_change", "skipped", None)
    assert (sent["event"], sent["state"], sent["last_status_code"]) == ("conversion", "succeeded", 200)


@pytest.mark.parametrize("ref", ["id", "wall", "Wall"])
def test_partner_logs_filters_by_partner_id_slug_or_name(run_json, failed, partner, ref):
    other = Partner.objects.create(name="Other", postback_url=URL)
    Delivery.objects.create(event=failed.event, destination=other)

    data = run_json("partner_logs", "--partner", str(partner.pk) if ref == "id" else ref)

    assert [row["id"] for row in data] == [failed.pk]


def test_partner_logs_filters_by_state_and_limits(run_json, failed, succeeded):
    assert [row["id"] for row in run_json("partner_logs", "--state", "failed")] == [failed.pk]
    assert [row["id"] for row in run_json("partner_logs", "--limit", "1")] == [succeeded.pk]
    assert run_json("partner_logs", "--state", "retrying") == []


def test_partner_logs_prints_a_table_by_default(run, failed):
    header, row = run("partner_logs").splitlines()

    assert header.split() == [
        "id",
        "created_at",
        "partner",
        "conversion_id",
        "event",
        "state",
        "attempts",
        "last_status_code",
        "last_error",
        "url",
    ]
    assert row.split()[0] == str(failed.pk)
    assert "HTTP 500 Internal Server Error" in row


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "0"], "--limit must be at least 1"),
        (["--partner", "nope"], "no partner with id, slug or name 'nope'"),
        (["--state", "lost"], "invalid choice: 'lost'"),
    ],
)
def test_partner_logs_rejects_bad_input(run, db, args, message):
    with pytest.raises(CommandError, match=message):
        run("partner_logs", *args)


# redeliver


@responses.activate
def test_redeliver_sends_a_failed_delivery_again(run_json, failed):
    responses.get(URL, body="ok")

    data = run_json("redeliver", "--delivery", str(failed.pk))

    assert data == {"queued": [{"id": failed.pk, "partner": "Wall", "state": "failed"}], "not_queued": []}
    assert [call.request.url for call in responses.calls] == [URL + "?click=c-1&token=s3cr3t-token"]
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == ("succeeded", 2)


@responses.activate
def test_redeliver_never_sends_a_succeeded_delivery_twice(run_json, succeeded):
    data = run_json("redeliver", "--delivery", str(succeeded.pk))

    assert data["queued"] == []
    assert data["not_queued"] == [
        {"id": succeeded.pk, "partner": "Wall", "state": "succeeded", "why": "already succeeded"}
    ]
    assert len(responses.calls) == 0
    assert Delivery.objects.get(pk=succeeded.pk).attempts == 1


def test_redeliver_leaves_a_delivery_in_flight_alone(run_json, failed):
    Delivery.objects.filter(pk=failed.pk).update(state="sending", locked_until=timezone.now() + timedelta(minutes=1))

    data = run_json("redeliver", "--delivery", str(failed.pk))

    assert data["not_queued"][0]["why"] == "in flight"
    assert Delivery.objects.get(pk=failed.pk).attempts == 1


@responses.activate
def test_redeliver_replays_a_partners_failed_deliveries_since_a_time(run, failed, succeeded, convert):
    older = convert(answer=500, transaction_id="t-older")
    Delivery.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=2))
    responses.get(URL, body="ok")
    since = (timezone.now() - timedelta(days=1)).isoformat()

    output = run("redeliver", "--partner", "wall", "--since", since)

    assert Delivery.objects.get(pk=failed.pk).state == "succeeded"
    assert Delivery.objects.get(pk=older.pk).state == "failed"
    assert len(responses.calls) == 1
    header, row, summary = output.splitlines()
    assert header.split() == ["id", "partner", "state", "result"]
    assert row.split() == [str(failed.pk), "Wall", "failed", "queued"]
    assert summary == "queued 1"


def test_redeliver_reads_a_bare_date_as_its_midnight(run_json, failed):
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()

    assert run_json("redeliver", "--partner", "Wall", "--since", tomorrow) == {"queued": [], "not_queued": []}


def test_redeliver_prints_why_a_delivery_was_not_queued(run, succeeded):
    output = run("redeliver", "--delivery", str(succeeded.pk))

    assert "not queued: already succeeded" in output
    assert output.splitlines()[-1] == "queued 0; not queued 1 (already succeeded: 1)"


def test_redeliver_refuses_an_auto_disabled_partner(run, failed, partner):
    Partner.objects.filter(pk=partner.pk).update(disabled_at=timezone.now(), disabled_reason="answered 410 Gone")

    with pytest.raises(CommandError, match=r"partner 'Wall' is auto-disabled \(answered 410 Gone\): re-enable"):
        run("redeliver", "--delivery", str(failed.pk))
    assert Delivery.objects.get(pk=failed.pk).state == "failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --delivery ID, or --partner ID with --since ISO"),
        (["--partner", "wall"], "give --delivery ID, or --partner ID with --since ISO"),
        (["--since", "2025-01-01"], "give --delivery ID, or --partner ID with --since ISO"),
        (["--delivery", "1", "--since", "2025-01-01"], "--delivery goes alone"),
        (["--delivery", "999"], "no delivery with id 999"),
        (["--delivery", "one"], "invalid int value: 'one'"),
        (["--partner", "nope", "--since", "2025-01-01"], "no partner with id, slug or name 'nope'"),
        (["--partner", "wall", "--since", "yesterday"], "--since 'yesterday' is not an ISO date or time"),
        (["--partner", "wall", "--since", "2025-02-30"], "--since '2025-02-30' is not an ISO date or time"),
    ],
)
def test_redeliver_rejects_bad_input(run, partner, args, message):
    with pytest.raises(CommandError, match=message):
        run("redeliver", *args)


def test_create_partner_can_set_a_partner_to_receive_tests(db):
    call_command(
        "create_partner", "QA", "--url", "https://qa.example/pb?c={click_id}", "--receives-tests", stdout=StringIO()
    )
    call_command("create_partner", "Real", "--url", "https://real.example/pb?c={click_id}", stdout=StringIO())

    assert dict(Partner.objects.values_list("name", "receives_tests")) == {"QA": True, "Real": False}
