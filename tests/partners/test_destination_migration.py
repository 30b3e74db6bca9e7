"""The migration to destinations, run on a scratch database of the suite's own kind: nothing a partner had is lost,
a network's outgoing postback becomes its own destination, and every delivery keeps its target."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

# Runs in a `manage.py shell` on the scratch database: the old schema, rows made with it, the migration, the rows read
# back with today's models.
SCRIPT = """
import json
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

call_command("migrate", "partners", "0017", verbosity=0)
call_command("migrate", "receiver", verbosity=0)
old = MigrationExecutor(connection).loader.project_state(
    [("partners", "0017_delivery_due_in_id_order"), ("receiver", "0016_partition_received_postbacks")]
).apps
network = old.get_model("receiver", "Network").objects.create(name="Acme", key="k" * 32)
Partner = old.get_model("partners", "Partner")
wall = Partner.objects.create(name="Wall", slug="wall", postback_url="https://w.example/?c={click_id}",
                              signing_secret="whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", max_concurrency=3)
report = Partner.objects.create(name="Acme (network postback)", network=network, postback_url="https://a.example/")
conversion = old.get_model("receiver", "Conversion").objects.create(
    network=network, click_id="c1", dedupe_id="t1", status="approved"
)
event = old.get_model("receiver", "ConversionEvent").objects.create(
    conversion=conversion, kind="created", to_status="approved"
)
Delivery = old.get_model("partners", "Delivery")
Delivery.objects.create(event=event, partner=wall, webhook_id="msg_wall")
Delivery.objects.create(event=event, partner=report, webhook_id="msg_report")
old.get_model("partners", "PartnerHealth").objects.create(partner=report, breaker="open", consecutive_failures=5)
call_command("migrate", verbosity=0)

from partners.models import Delivery, DestinationHealth, NetworkPostback, Partner

added = Partner.objects.create(name="Added", postback_url="https://n.example/")
print(json.dumps({
    "ids": [wall.pk, report.pk, network.pk],
    "partners": [[p.pk, p.name, p.slug, p.max_concurrency, p.signing_secret] for p in Partner.objects.order_by("pk")],
    "reports": [[r.pk, r.name, r.network_id, r.postback_url] for r in NetworkPostback.objects.all()],
    "deliveries": {d.webhook_id: d.destination_id for d in Delivery.objects.all()},
    "health": [[h.destination_id, h.breaker, h.consecutive_failures] for h in DestinationHealth.objects.all()],
    "added": added.pk,
}))
"""


@pytest.fixture
def scratch_database(tmp_path):
    """DATABASE_URL of an empty database beside the suite's: a SQLite file, or a new PostgreSQL database."""
    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    params = settings.DATABASES["default"]
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    admin = {"host": params["HOST"], "port": params["PORT"] or 5432, "user": params["USER"], "dbname": "postgres"}
    with psycopg.connect(**admin, password=params["PASSWORD"] or None, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        login = params["USER"] + (f":{params['PASSWORD']}" if params["PASSWORD"] else "")
        yield f"postgres://{login}@{params['HOST']}:{admin['port']}/{name}"
    finally:
        with psycopg.connect(**admin, password=params["PASSWORD"] or None, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
def test_partners_become_destinations_and_a_networks_postback_its_own(scratch_database, tmp_path):
    env = {**os.environ, "DATABASE_URL": scratch_database, "VAR_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout.strip().splitlines()[-1])
    wall, report, network = found["ids"]

    assert found["partners"] == [
        [wall, "Wall", "wall", 3, "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"],
        [found["added"], "Added", None, None, ""],
    ]
    assert found["reports"] == [[report, "Acme (network postback)", network, "https://a.example/"]]
    assert found["deliveries"] == {"msg_wall": wall, "msg_report": report}
    assert found["health"] == [[report, "open", 5]]
    assert found["added"] > report  # the destinations' ids go on from the partners' old ones
