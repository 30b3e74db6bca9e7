"""The database unreachable under a live server: every postback gets 503, nothing is stored half-way, health says so.

The server (gunicorn) reaches the test database by a way the test can cut: PostgreSQL through a loopback TCP proxy
(the shared server is never touched), SQLite through a symlinked folder that can point nowhere.
"""

import os

import pytest
from django.db import connection

from partners.models import Delivery, Partner
from receiver.models import Conversion, ConversionEvent, ReceivedPostback
from tests.support.proxy import TcpProxy
from tests.support.workers import database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HEALTH = "/api/postback/health"
OUTAGE_POSTBACKS = 20


class SqliteFolderLink:
    """The server opens the SQLite file through a symlink to its folder; `down` points the link at nothing."""

    def __init__(self, tmp_path):
        real = os.path.realpath(connection.settings_dict["NAME"])
        self.folder = os.path.dirname(real)
        self.link = tmp_path / "db"
        self.nowhere = tmp_path / "nowhere"
        os.symlink(self.folder, self.link)
        self.url = f"sqlite:///{self.link / os.path.basename(real)}"
        # SQLite is opened per connection: one kept open would outlive the outage. Each request opens its own.
        self.env = {"CONN_MAX_AGE": 0}

    def _point_at(self, target):
        # Replacing the link in one rename: no moment with no link at all.
        staging = self.link.with_name("db.new")
        os.symlink(target, staging)
        os.replace(staging, self.link)

    def down(self):
        self._point_at(self.nowhere)

    def up(self):
        self._point_at(self.folder)

    def close(self):
        pass


class PostgresThroughProxy:
    """The server connects through a TCP proxy with its usual settings (CONN_MAX_AGE, health checks)."""

    def __init__(self):
        target = (connection.settings_dict["HOST"] or "127.0.0.1", int(connection.settings_dict["PORT"] or 5432))
        self.proxy = TcpProxy(target).up()
        self.url = database_url(self.proxy.address)
        self.env = {}

    def down(self):
        self.proxy.down()

    def up(self):
        self.proxy.up()

    def close(self):
        self.proxy.close()


@pytest.fixture
def database(tmp_path):
    way = SqliteFolderLink(tmp_path) if connection.vendor == "sqlite" else PostgresThroughProxy()
    yield way
    way.close()


@pytest.fixture
def server(servers, database, network):
    # A partner, whose deliveries no worker makes here: the postback's transaction ends with the event.
    Partner.objects.create(name="Publisher", postback_url="http://127.0.0.1:9/pb")
    return servers.start(DATABASE_URL=database.url, **database.env)


def postbacks(server, network, numbers):
    """The three ways in: a GET with the key in the path, a form POST, the API endpoint with the key in a header."""
    answers = []
    for n in numbers:
        params = {"click_id": f"c-{n}", "transaction_id": f"t-{n}", "payout": "1.25"}
        if n % 3 == 0:
            answers.append(server.get(f"/postback/{network.key}/", params=params))
        elif n % 3 == 1:
            answers.append(server.post(f"/postback/{network.key}/", data=params))
        else:
            answers.append(server.post("/api/postback/", data=params, headers={"X-Postback-Key": network.key}))
    return answers


def stored_rows():
    """(postbacks, conversions, events waiting for a worker to route them, deliveries): no worker runs here."""
    return (
        ReceivedPostback.objects.count(),
        Conversion.objects.count(),
        ConversionEvent.objects.filter(routed_at__isnull=True).count(),
        Delivery.objects.count(),
    )


def test_with_the_database_down_every_postback_gets_503_nothing_is_stored_and_the_retries_are_whole(
    server, network, database
):
    [before] = postbacks(server, network, [0])
    assert before.json()["success"]
    assert stored_rows() == (1, 1, 1, 0)

    # when the database becomes unreachable while postbacks arrive
    database.down()
    answers = postbacks(server, network, range(1, OUTAGE_POSTBACKS + 1))
    health = server.get(HEALTH)
    database.up()

    # then every one is answered 503, for the network to retry, and health names the database
    assert [a.status_code for a in answers] == [503] * OUTAGE_POSTBACKS
    assert {a.json()["reason"] for a in answers} == {"storage_down"}
    assert health.status_code == 503
    checks = health.json()["checks"]
    assert checks["database"]["ok"] is False
    assert checks["database"]["error"]
    assert checks["broker"]["ok"] is True
    assert "receiver storage failed" in server.log()
    # and nothing of theirs was stored, not even in part
    assert stored_rows() == (1, 1, 1, 0)
    # and once it is back, the networks' retries are new postbacks, each stored whole
    retried = postbacks(server, network, range(1, OUTAGE_POSTBACKS + 1))
    assert [a.status_code for a in retried] == [200] * OUTAGE_POSTBACKS
    assert not any(a.json().get("duplicate") for a in retried)
    total = OUTAGE_POSTBACKS + 1
    assert stored_rows() == (total, total, total, 0)
    assert server.get(HEALTH).status_code == 200


@pytest.mark.postgres
def test_a_connection_lost_in_the_middle_of_the_transaction_leaves_no_partial_rows(server, network, database):
    # The proxy resets the server's connection when the transaction gets to its last INSERT, the event:
    # the received postback and the conversion are already written, uncommitted.
    database.proxy.cut_on(b'INSERT INTO "receiver_conversionevent"')

    [answer] = postbacks(server, network, [1])

    assert database.proxy.cut.is_set()
    assert (answer.status_code, answer.json()["reason"]) == (503, "storage_down")
    assert stored_rows() == (0, 0, 0, 0)
    [retried] = postbacks(server, network, [1])
    assert retried.status_code == 200
    assert retried.json()["success"]
    assert not retried.json().get("duplicate")
    assert stored_rows() == (1, 1, 1, 0)
    conversion = Conversion.objects.get()
    assert (conversion.click_id, conversion.dedupe_id) == ("c-1", "t-1")
