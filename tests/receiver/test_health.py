"""GET /api/postback/health: database and broker checks, 503 when either is down."""

import socket
from datetime import datetime

import pytest
from django.db import OperationalError, connection

HEALTH = "/api/postback/health"
# Nothing listens on port 1, so a connection there is refused at once.
DEAD_BROKER = "redis://127.0.0.1:1/0"

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down(monkeypatch):
    # health.check_broker() opens celery_app.connection_for_write(), whose URL is Celery's
    # conf.broker_write_url: CELERY_BROKER_WRITE_URL from the environment wins over every
    # other setting (even CELERY_BROKER_URL in CI's Redis pass), and monkeypatch restores it.
    monkeypatch.setenv("CELERY_BROKER_WRITE_URL", DEAD_BROKER)


def failing_database(execute, sql, params, many, context):
    raise OperationalError("database is unreachable")


def test_it_reports_healthy_with_both_checks(client):
    response = client.get(HEALTH)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["service"] == "postback"
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None
    assert body["uptime"] >= 0
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database"]["vendor"] == connection.vendor
    assert body["checks"]["broker"]["ok"] is True


def test_it_also_answers_with_a_trailing_slash(client):
    assert client.get(HEALTH + "/").status_code == 200


def test_it_is_never_cached(client):
    assert "no-cache" in client.get(HEALTH)["Cache-Control"]


def test_it_answers_503_naming_the_broker_when_the_broker_is_unreachable(client, broker_down):
    response = client.get(HEALTH)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["broker"]["ok"] is False
    assert "127.0.0.1:1" in body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["ok"] is True


def test_an_unreachable_broker_is_tried_once_so_the_answer_does_not_wait(client, broker_down, monkeypatch):
    tries = []
    connect = socket.socket.connect

    def counting_connect(sock, address):
        if address[1] == 1:
            tries.append(address)
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", counting_connect)

    assert client.get(HEALTH).status_code == 503
    assert len(tries) == 1


def test_it_answers_503_naming_the_database_when_the_database_fails(client):
    with connection.execute_wrapper(failing_database):
        response = client.get(HEALTH)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"] == {"ok": False, "error": "database is unreachable"}
    assert body["checks"]["broker"]["ok"] is True


def test_it_names_both_when_both_are_down(client, broker_down):
    with connection.execute_wrapper(failing_database):
        body = client.get(HEALTH).json()

    assert body["status"] == "unhealthy"
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["broker"]["ok"] is False


@pytest.mark.parametrize("method", ["post", "put"])
def test_only_get_is_allowed(client, method):
    assert getattr(client, method)(HEALTH).status_code == 405
