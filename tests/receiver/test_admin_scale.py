"""The received postbacks' admin list at 200,000 rows: a bounded number of queries, none reading the whole table."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from postbacks_project.admin_scale import COUNT_CAP
from receiver.admin import HTTP_STATUSES, REASONS
from receiver.models import Network, Outcome, ReceivedPostback, Source

ROWS = 200_000
TABLE = ReceivedPostback._meta.db_table
# Session, user, the capped count, the page of rows, the networks for their filter: what one list page needs.
PAGE_QUERIES = 5
OUTCOMES = list(Outcome.values)


@pytest.fixture
def postbacks(db):
    networks = [Network.objects.create(name=f"Network {n}") for n in range(2)]
    start = timezone.now() - timedelta(days=60)
    ReceivedPostback.objects.bulk_create(
        (
            ReceivedPostback(
                received_at=start + timedelta(seconds=26 * n),
                method="POST" if n % 7 == 0 else "GET",
                path="/postback/***/",
                network=networks[n % 2],
                source=Source.CLAIM if n % 11 == 0 else Source.POSTBACK,
                outcome=OUTCOMES[n % len(OUTCOMES)],
                reason=REASONS[n % len(REASONS)][0] if n % 5 == 0 else "",
                click_id=f"click-{n}",
                http_status=HTTP_STATUSES[n % len(HTTP_STATUSES)][0] if n % 5 == 0 else 200,
            )
            for n in range(ROWS)
        ),
        batch_size=5000,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {TABLE}")
    return networks


def changelists(networks):
    """The list as it opens, with each filter choice the admin offers, a search, and a later page."""
    queries = [{}, {"p": "3"}, {"q": "click-4242"}, {"network__id__exact": networks[1].pk}]
    queries += [{"received_at_within": key} for key in ("1h", "24h", "7d", "30d")]
    queries += [{"source__exact": value} for value in Source.values]
    queries += [{"outcome__exact": value} for value in OUTCOMES]
    queries += [{"reason": value} for value, _ in REASONS[:3]]
    queries += [{"http_status": value} for value, _ in HTTP_STATUSES[:3]]
    queries += [{"method": value} for value in ("GET", "POST")]
    return queries


def open_each(admin_client, networks):
    """{query: [sql, ...]} for each changelist, after checking it answers."""
    url = reverse("admin:receiver_receivedpostback_changelist")
    seen = {}
    for query in changelists(networks):
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(url, query)
        assert response.status_code == 200, query
        assert response.context["cl"].result_list, query
        seen[str(query)] = [q["sql"] for q in captured.captured_queries]
    return seen


def test_each_received_postbacks_list_takes_a_page_of_queries_and_never_counts_the_table(admin_client, postbacks):
    seen = open_each(admin_client, postbacks)
    # Past the count cap, the list still says how many there are, about: more than the cap, not more than the table.
    unfiltered = admin_client.get(reverse("admin:receiver_receivedpostback_changelist")).context["cl"]
    assert COUNT_CAP < unfiltered.result_count <= ROWS * 1.1

    for query, sqls in seen.items():
        # On PostgreSQL a list past the count cap also reads the table's estimate, one row of pg_class.
        estimates = [sql for sql in sqls if "pg_class" in sql]
        assert len(sqls) - len(estimates) == PAGE_QUERIES, (query, sqls)
        assert len(estimates) <= 1, query
        on_table = [sql for sql in sqls if TABLE in sql]
        assert not [sql for sql in on_table if "DISTINCT" in sql.upper()], query
        counts = [sql for sql in on_table if "COUNT(" in sql.upper()]
        assert len(counts) == 1, (query, counts)
        assert re.search(r"\bLIMIT\b", counts[0]), (query, counts)


@pytest.mark.postgres
def test_no_received_postbacks_list_scans_the_table_on_postgresql(admin_client, postbacks):
    seen = open_each(admin_client, postbacks)

    with connection.cursor() as cursor:
        for query, sqls in seen.items():
            for sql in (sql for sql in sqls if TABLE in sql and sql.lstrip().upper().startswith("SELECT")):
                cursor.execute(f"EXPLAIN {sql}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
                assert f"Seq Scan on {TABLE}" not in plan, (query, sql, plan)
