"""Each alert opens once when its condition starts and closes once when it clears, across repeated checks."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
import responses
from django.conf import settings as django_settings
from django.core import mail
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from partners import outbox
from partners.alerts import BACKLOG, PARTNER_DISABLED, PARTNER_FAILING
from partners.models import DeliveryAttempt, Partner, State
from partners.signing import generate_secret
from postbacks_project.alerts import checks, registry
from postbacks_project.alerts.models import Alert
from receiver.alerts import NETWORK_SILENT, learned_gap
from receiver.models import Outcome, ReceivedPostback, Source

NOW = timezone.now().replace(microsecond=0)
HOOK = "https://ops.example/alerts"


@pytest.fixture(autouse=True)
def _alert_settings(settings):
    settings.ALERT_EMAILS = ["ops@example.com"]
    settings.ALERT_WEBHOOK_URL = ""
    settings.ALERT_FAILURE_MINUTES = 10
    settings.ALERT_FAILURE_MIN_ATTEMPTS = 10
    settings.ALERT_FAILURE_RATIO = 0.5
    settings.ALERT_BACKLOG_SECONDS = 600
    settings.ALERT_SILENCE_FACTOR = 2
    settings.ALERT_SILENCE_FLOOR_MINUTES = 30


@pytest.fixture
def partner(db):
    return Partner.objects.create(name="Pub", slug="pub", postback_url="https://partner.example/pb?click={click_id}")


@pytest.fixture
def delivery(partner, client, network, django_capture_on_commit_callbacks):
    """A delivery to the partner waiting for its next try tomorrow (what the commit hands over is not run)."""
    with django_capture_on_commit_callbacks(execute=False):
        assert client.get(f"/postback/{network.key}/", {"click_id": "c-1", "transaction_id": "t-1"}).json()["success"]
    outbox.route()
    partner.deliveries.update(state=State.RETRYING, next_attempt_at=NOW + timedelta(days=1))
    return partner.deliveries.get()


def attempts(delivery, at, ok=0, failed=0):
    rows = [(200, "") for _ in range(ok)] + [(503, "http_5xx") for _ in range(failed)]
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery=delivery, number=n, url="u", method="GET", response_status=s, error_code=c, created_at=at
        )
        for n, (s, c) in enumerate(rows, 1)
    )


def heard(network, *ages_minutes, outcome=Outcome.ACCEPTED):
    ReceivedPostback.objects.bulk_create(
        ReceivedPostback(
            network=network, source=Source.POSTBACK, outcome=outcome, received_at=NOW - timedelta(minutes=age)
        )
        for age in ages_minutes
    )


def run_at(*minutes):
    """Checks at NOW + each minute; the (event, kind, key) of every change, in order."""
    seen = []
    for minute in minutes:
        seen += [(event, alert.kind, alert.key) for event, alert in checks.run(NOW + timedelta(minutes=minute))]
    return seen


def test_an_auto_disabled_partner_opens_once_and_closes_once_when_re_enabled(partner):
    Partner.objects.filter(pk=partner.pk).update(disabled_at=NOW, disabled_reason="410 Gone")

    assert run_at(0, 1, 2) == [("opened", PARTNER_DISABLED, f"partner:{partner.pk}")]
    Partner.objects.filter(pk=partner.pk).update(disabled_at=None)
    assert run_at(3, 4) == [("closed", PARTNER_DISABLED, f"partner:{partner.pk}")]

    alert = Alert.objects.get()
    assert (alert.opened_at, alert.closed_at) == (NOW, NOW + timedelta(minutes=3))
    assert "410 Gone" in alert.last_message


def test_a_failing_partner_opens_over_the_ratio_and_closes_after_a_success(delivery, partner):
    attempts(delivery, NOW, ok=4, failed=6)

    assert run_at(0, 1) == [("opened", PARTNER_FAILING, f"partner:{partner.pk}")]
    assert Alert.objects.get().last_message == "partner Pub: 6 of 10 attempts failed in the last 10 min"
    # Ten minutes on, the window is empty, but the latest attempt failed: a partner held back is still failing.
    assert run_at(12) == []
    attempts(delivery, NOW + timedelta(minutes=13), ok=1)
    assert run_at(14, 15) == [("closed", PARTNER_FAILING, f"partner:{partner.pk}")]


def test_a_failing_partner_needs_enough_attempts(delivery):
    attempts(delivery, NOW, failed=9)

    assert run_at(0, 1) == []


def test_a_partner_at_the_ratio_is_not_failing(delivery):
    attempts(delivery, NOW, ok=5, failed=5)

    assert run_at(0) == []


def test_an_old_due_delivery_opens_the_backlog_alert_until_it_is_sent(delivery, partner):
    type(delivery).objects.filter(pk=delivery.pk).update(next_attempt_at=NOW)

    assert run_at(5, 9) == []
    assert run_at(11, 12) == [("opened", BACKLOG, f"partner:{partner.pk}")]
    type(delivery).objects.filter(pk=delivery.pk).update(state=State.SUCCEEDED)
    assert run_at(13, 14) == [("closed", BACKLOG, f"partner:{partner.pk}")]


def test_the_learned_gap_is_the_longest_of_enough_gaps():
    times = [NOW - timedelta(minutes=m) for m in (0, 1, 2, 3, 10, 11, 12, 13, 14, 15, 16)]

    assert learned_gap(times) == 7 * 60
    assert learned_gap(times[:10]) is None


def test_a_network_silent_longer_than_its_learned_gap_opens_once_and_closes_with_its_next_postback(network):
    # Every 20 minutes for the last 10 postbacks, and one 40-minute gap: 80 minutes of silence is unusual.
    heard(network, 0, 20, 40, 60, 100, 120, 140, 160, 180, 200, 220)
    heard(network, 5, 10, outcome=Outcome.REJECTED)  # a refused request is not hearing from the network

    assert run_at(30, 60, 80) == []
    assert run_at(81, 90) == [("opened", NETWORK_SILENT, f"network:{network.pk}")]
    assert "its longest gap of the week was 40 min" in Alert.objects.get().last_message
    heard(network, -91)
    assert run_at(92, 93) == [("closed", NETWORK_SILENT, f"network:{network.pk}")]


def test_a_learned_threshold_is_never_under_the_floor(network):
    heard(network, *range(0, 11))  # one a minute: twice the longest gap is 2 minutes

    assert run_at(29) == []
    assert run_at(31) == [("opened", NETWORK_SILENT, f"network:{network.pk}")]


def test_a_network_with_too_little_history_is_not_silent_unless_it_sets_its_own_minutes(network):
    heard(network, 0, 60)
    assert run_at(600) == []

    network.silence_alert_minutes = 15
    network.save()
    assert run_at(601) == [("opened", NETWORK_SILENT, f"network:{network.pk}")]
    assert "its silence_alert_minutes" in Alert.objects.get().last_message


def test_a_network_set_to_zero_minutes_never_alerts(network):
    network.silence_alert_minutes = 0
    network.save()
    heard(network, *range(0, 11))

    assert run_at(24 * 60) == []


def test_only_one_alert_per_subject_is_open_at_the_database(db):
    from django.db import IntegrityError, transaction

    Alert.objects.create(kind=BACKLOG, key="partner:1", last_message="x")
    Alert.objects.create(kind=BACKLOG, key="partner:1", last_message="x", closed_at=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(kind=BACKLOG, key="partner:1", last_message="x")


def test_notices_go_out_by_email_once_when_opened_and_once_when_closed(partner):
    Partner.objects.filter(pk=partner.pk).update(disabled_at=NOW)

    run_at(0, 1)
    Partner.objects.filter(pk=partner.pk).update(disabled_at=None)
    run_at(2, 3)

    assert [message.to for message in mail.outbox] == [["ops@example.com"], ["ops@example.com"]]
    opened, closed = (message.subject for message in mail.outbox)
    assert opened.startswith("[postback hub] partner auto-disabled: partner Pub was auto-disabled at")
    assert closed == f"[postback hub] recovered: partner auto-disabled (partner:{partner.pk})"


def test_without_alert_emails_the_admins_get_them(settings, partner):
    settings.ALERT_EMAILS = []
    settings.ADMINS = [("ops", "admins@example.com")]
    Partner.objects.filter(pk=partner.pk).update(disabled_at=NOW)

    run_at(0)

    assert [message.to for message in mail.outbox] == [["admins@example.com"]]


@responses.activate
def test_notices_go_to_the_webhook_signed_like_partner_deliveries(settings, partner):
    secret = generate_secret()
    settings.ALERT_WEBHOOK_URL = HOOK
    settings.ALERT_WEBHOOK_SECRET = secret
    responses.post(HOOK)
    Partner.objects.filter(pk=partner.pk).update(disabled_at=NOW)

    run_at(0, 1)
    Partner.objects.filter(pk=partner.pk).update(disabled_at=None)
    run_at(2, 3)

    bodies = []
    for call in responses.calls:
        request = call.request
        assert request.headers["Content-Type"] == "application/json"
        # Webhook.verify raises unless the signature, id and timestamp match the body.
        bodies.append(Webhook(secret).verify(request.body, dict(request.headers)))
        assert request.headers["User-Agent"].startswith("postback-hub/")
    assert [(body["type"], body["kind"], body["key"]) for body in bodies] == [
        ("alert.opened", "partner_disabled", f"partner:{partner.pk}"),
        ("alert.closed", "partner_disabled", f"partner:{partner.pk}"),
    ]
    assert bodies[1]["closed_at"] == (NOW + timedelta(minutes=2)).isoformat()
    assert len({call.request.headers["webhook-id"] for call in responses.calls}) == 2
    assert json.loads(responses.calls[0].request.body)["message"].startswith("partner Pub was auto-disabled")


def test_without_email_url_the_notices_are_printed_to_the_console():
    # The module's own value: the test run swaps django.conf.settings' backend for an in-memory one.
    from postbacks_project import settings as project_settings

    assert project_settings.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend"


def test_beat_runs_the_check_every_alert_check_every_seconds():
    entry = django_settings.CELERY_BEAT_SCHEDULE["check-alerts"]

    assert entry == {"task": "postbacks_project.alerts.tasks.check", "schedule": 60.0}


def test_the_apps_register_their_own_kinds_each_with_its_condition():
    conditions = registry.conditions()

    assert {PARTNER_DISABLED, PARTNER_FAILING, BACKLOG, NETWORK_SILENT} <= set(conditions)
    assert registry.label(NETWORK_SILENT) == "network silent"


def test_the_shared_alerts_package_imports_no_app():
    package = Path(django_settings.BASE_DIR) / "postbacks_project" / "alerts"
    imports = [
        line.strip()
        for path in package.rglob("*.py")
        for line in path.read_text().splitlines()
        if line.strip().startswith(("from ", "import "))
    ]
    apps = ("receiver", "partners", "testing_tools")
    assert [line for line in imports if line.split()[1].split(".")[0] in apps] == []
