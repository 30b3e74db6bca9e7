"""Secrets never show in clear: not in the logs (at DEBUG, through a whole postback -> delivery flow), not in the
API, not on a 500 page, not in the admin's change lists.

The secrets: a network's key and HMAC secret, a partner's signing secret, and its secret header and URL values.
"""

import hashlib
import hmac
import io
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from partners.models import Delivery, Partner
from partners.signing import generate_secret
from postbacks_project.masking import MaskSecretsFilter
from receiver.models import Network

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def secrets_world(db, settings, sink):
    """A network with an HMAC secret and a partner with every kind of secret; returns the secrets."""
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    network = Network.objects.create(name="Secretive", hmac_secret="hmac-secret-0123456789abcdef")
    partner = Partner.objects.create(
        name="Partner",
        slug="partner",
        postback_url=sink.url("/pb?click={click_id}&token=url-token-0123456789abcdef"),
        headers={"Authorization": "Bearer header-bearer-0123456789", "X-Api-Key": "header-apikey-0123456789"},
        signing_secret=generate_secret(),
    )
    # A partner that cannot be reached: the error of each attempt quotes the URL.
    Partner.objects.create(name="Closed", slug="closed", postback_url=f"{closed_port_url()}?token=url-token-{'0' * 16}")
    return {
        "network key": network.key,
        "HMAC secret": network.hmac_secret,
        "signing secret": partner.signing_secret,
        "signing secret's key": partner.signing_secret.removeprefix("whsec_"),
        "bearer header": "header-bearer-0123456789",
        "API key header": "header-apikey-0123456789",
        "URL token": "url-token-0123456789abcdef",
        "unreachable URL token": f"url-token-{'0' * 16}",
    }


def closed_port_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/pb"


def signed(secret, query):
    return hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def full_flow(secrets_world, sink, admin_client, django_capture_on_commit_callbacks):
    """Accepted, refused and failing postbacks, their deliveries and a test postback, all for real."""

    def run():
        key, hmac_secret = secrets_world["network key"], secrets_world["HMAC secret"]
        partner = Partner.objects.get(slug="partner")
        client = Client()
        query = "click_id=c1&transaction_id=t1&payout=2.00"
        with django_capture_on_commit_callbacks(execute=True):
            accepted = client.get(f"/postback/{key}/?{query}", headers={"x-signature": signed(hmac_secret, query)})
        assert accepted.status_code == 200, accepted.content
        query = f"key={key}&click_id=c2&transaction_id=t2"
        assert client.get(f"/api/postback/?{query}", headers={"x-signature": "0" * 64}).status_code == 401
        assert client.get(f"/postback/{key}/", {"click_id": "c3"}).status_code == 401
        with django_capture_on_commit_callbacks(execute=True):
            answer = admin_client.post(
                "/api/admin/test-postback/send", {"rows": [{"partner_id": partner.pk}]}, content_type="application/json"
            )
        assert answer.status_code == 201
        assert len(sink.received) == 2, "the delivery and the test postback reached the partner"
        assert Delivery.objects.get(destination__partner__slug="closed").last_error_code == "refused"
        assert sink.received[0].headers["authorization"] == "Bearer " + secrets_world["bearer header"]
        return answer.json()["batch"]

    return run


def assert_no_secret_in(text, secrets_world, where):
    leaked = [name for name, secret in secrets_world.items() if secret in text]
    assert leaked == [], f"{', '.join(leaked)} in clear in {where}"


@pytest.fixture
def log_output(caplog):
    """What the project's log handler writes (the masking filter is on it), with every logger at DEBUG."""
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, MaskSecretsFilter) for f in h.filters))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    caplog.set_level(logging.DEBUG)
    yield buffer
    handler.setStream(previous)


def test_logs_at_debug_show_no_secret_through_a_whole_flow(full_flow, secrets_world, log_output, monkeypatch):
    full_flow()
    # A bug in the receiver, on a request whose URL carries the key: the traceback is logged too.
    key = secrets_world["network key"]
    monkeypatch.setattr("receiver.views._handle", _raise_with_the_url)
    assert Client().get(f"/postback/{key}/?key={key}&click_id=c4").status_code == 500

    output = log_output.getvalue()
    assert " DEBUG urllib3.connectionpool " in output, "the capture sees DEBUG records"
    assert "Unauthorized: /postback/" in output
    assert "Traceback" in output
    assert_no_secret_in(output, secrets_world, "the logs")


def _raise_with_the_url(request, *args):
    raise ValueError(f"cannot handle {request.get_full_path()}")


def test_the_api_shows_no_secret(full_flow, secrets_world, admin_client):
    batch = full_flow()
    partner, network = Partner.objects.get(slug="partner"), Network.objects.get()
    pages = [
        "/api/v1/networks/",
        f"/api/v1/networks/{network.pk}/",
        "/api/v1/partners/",
        f"/api/v1/partners/{partner.pk}/",
        "/api/v1/received-postbacks/",
        "/api/v1/deliveries/",
        "/api/v1/conversions/",
        "/api/status/",
        f"/api/admin/test-postback/{batch}",
    ]
    # The URL template is the partner's settings as staff wrote them, shown as is for editing; what was sent with
    # it (the deliveries' attempts) is masked. A partner's secret belongs in a header.
    shown_to_staff = {name: secret for name, secret in secrets_world.items() if not name.endswith("URL token")}
    for page in pages:
        response = admin_client.get(page)

        assert response.status_code == 200, page
        assert_no_secret_in(response.content.decode(), shown_to_staff, page)
    deliveries = admin_client.get("/api/v1/deliveries/").content.decode()
    assert secrets_world["URL token"] not in deliveries
    assert secrets_world["unreachable URL token"] not in deliveries
    assert admin_client.get(f"/api/v1/partners/{partner.pk}/").json()["masked_signing_secret"] == "whse…"


def test_the_admin_change_lists_show_no_secret(full_flow, secrets_world, admin_client):
    full_flow()
    for model in admin.site._registry:
        page = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = admin_client.get(page)

        assert response.status_code == 200, page
        assert_no_secret_in(response.content.decode(), secrets_world, page)


def test_a_500_page_shows_no_secret_and_no_traceback(secrets_world, admin_user, monkeypatch, settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)

    def fail(self, request):
        partner = Partner.objects.get(slug="partner")
        raise RuntimeError(f"failed with {partner.signing_secret} and {Network.objects.get().key}")

    monkeypatch.setattr("partners.admin.PartnerAdmin.get_queryset", fail)
    response = client.get("/admin/partners/partner/")

    assert response.status_code == 500
    body = response.content.decode()
    assert "Traceback" not in body
    assert "RuntimeError" not in body
    assert_no_secret_in(body, secrets_world, "the 500 page")


WORKER_LOGGING = """
import logging, django
django.setup()
from celery.utils.log import get_task_logger
from postbacks_project.celery import app
app.log.setup(loglevel="INFO")  # what `celery worker` does at start: its own handlers replace Django's
logging.getLogger("partners.delivery").warning("sent GET /pb?token=token-0123456789abcdef")
get_task_logger("partners.tasks").warning("refused /postback/key-0123456789abcdef/")
"""


def test_a_celery_workers_logs_are_masked_too(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "postbacks_project.settings", "VAR_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", WORKER_LOGGING], cwd=ROOT, env=env, capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    assert "sent GET /pb?token=toke…" in done.stderr
    assert "refused /postback/key-…/" in done.stderr
    assert "0123456789abcdef" not in done.stderr
