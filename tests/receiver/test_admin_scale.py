"""The received postbacks' admin list at 200,000 rows: a bounded number of queries, none reading the whole table."""

import json
import re
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from postbacks_project import partitions
from postbacks_project.admin_scale import COUNT_CAP
from receiver.admin import HTTP_STATUSES, REASONS
from receiver.models import Network, Outcome, ReceivedPostback, Source

ROWS = 200_000
TABLE = ReceivedPostback._meta.db_table
# Session, user, the capped count, the page of rows, the networks for their filter: what one list page needs.
PAGE_QUERIES = 5
OUTCOMES = list(Outcome.values)


def insert_on_postgresql(start, networks):
    """The same rows made by PostgreSQL itself (generate_series): the client-side insert of 200,000 rows is slow
    on a busy machine, and the server's is not."""
    codes = [code for code, _ in HTTP_STATUSES]
    reasons = [reason for reason, _ in REASONS]
    sql = f"""
        INSERT INTO {TABLE} (received_at, method, path, query, content_type, body, body_truncated, headers, source,
            network_id, outcome, reason, message, params, click_id, status, http_status, processing_ms)
        SELECT %(start)s + n * interval '26 seconds', CASE WHEN n %% 7 = 0 THEN 'POST' ELSE 'GET' END,
            '/postback/***/', '', '', ''::bytea, false, '{{}}'::jsonb,
            CASE WHEN n %% 11 = 0 THEN %(claim)s ELSE %(postback)s END,
            (%(networks)s::bigint[])[n %% 2 + 1], (%(outcomes)s::text[])[n %% %(n_outcomes)s + 1],
            CASE WHEN n %% 5 = 0 THEN (%(reasons)s::text[])[n %% %(n_reasons)s + 1] ELSE '' END,
            '', '{{}}'::jsonb, 'click-' || n, '',
            CASE WHEN n %% 5 = 0 THEN (%(codes)s::int[])[n %% %(n_codes)s + 1] ELSE 200 END, 0
        FROM generate_series(0, %(last)s) AS n
    """
    params = {
        "start": start,
        "claim": Source.CLAIM,
        "postback": Source.POSTBACK,
        "networks": [network.pk for network in networks],
        "outcomes": OUTCOMES,
        "n_outcomes": len(OUTCOMES),
        "reasons": reasons,
        "n_reasons": len(reasons),
        "codes": codes,
        "n_codes": len(codes),
        "last": ROWS - 1,
    }
    # The table is partitioned by month there: the rows go to their months, as they would have come in.
    for name, low, high in partitions.missing_months(TABLE, timezone.now(), start=start):
        partitions.create_month(TABLE, "received_at", name, low, high)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.execute(f"ANALYZE {TABLE}")


def insert_on_sqlite(start, networks):
    """The same rows made by SQLite itself (a recursive count): 200,000 ORM objects cost most of this test's time."""
    codes = json.dumps([code for code, _ in HTTP_STATUSES])
    reasons = json.dumps([reason for reason, _ in REASONS])
    sql = f"""
        WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < %s)
        INSERT INTO {TABLE} (received_at, method, path, query, content_type, body, body_truncated, headers, source,
            network_id, outcome, reason, message, params, click_id, status, http_status, processing_ms)
        SELECT strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s, '+' || (26 * n) || ' seconds'),
            CASE WHEN n %% 7 = 0 THEN 'POST' ELSE 'GET' END, '/postback/***/', '', '', X'', 0, '{{}}',
            CASE WHEN n %% 11 = 0 THEN %s ELSE %s END, json_extract(%s, '$[' || (n %% 2) || ']'),
            json_extract(%s, '$[' || (n %% %s) || ']'),
            CASE WHEN n %% 5 = 0 THEN json_extract(%s, '$[' || (n %% %s) || ']') ELSE '' END,
            '', '{{}}', 'click-' || n, '',
            CASE WHEN n %% 5 = 0 THEN json_extract(%s, '$[' || (n %% %s) || ']') ELSE 200 END, 0
        FROM seq
    """
    params = [
        ROWS - 1,
        start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        Source.CLAIM,
        Source.POSTBACK,
        json.dumps([network.pk for network in networks]),
        json.dumps(OUTCOMES),
        len(OUTCOMES),
        reasons,
        len(REASONS),
        codes,
        len(HTTP_STATUSES),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def postbacks(db):
    networks = [Network.objects.create(name=f"Network {n}") for n in range(2)]
    start = timezone.now() - timedelta(days=60)
    if connection.vendor == "postgresql":
        insert_on_postgresql(start, networks)
    else:
        insert_on_sqlite(start, networks)
    # The same rows either way: the lists below see what the other database would.
    assert ReceivedPostback.objects.filter(source=Source.CLAIM).count() == len(range(0, ROWS, 11))
    assert ReceivedPostback.objects.filter(http_status=HTTP_STATUSES[1][0]).count() == len(
        [n for n in range(ROWS) if n % 5 == 0 and n % len(HTTP_STATUSES) == 1]
    )
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
        # On PostgreSQL the whole table's count is its estimate, one row of pg_class, instead of a capped count.
        assert len(sqls) == PAGE_QUERIES, (query, sqls)
        on_table = [sql for sql in sqls if TABLE in sql]
        assert not [sql for sql in on_table if "DISTINCT" in sql.upper()], query
        counts = [sql for sql in on_table if "COUNT(" in sql.upper()]
        estimates = [sql for sql in sqls if "pg_class" in sql]
        assert len(counts) + len(estimates) == 1, (query, counts)
        assert all(re.search(r"\bLIMIT\b", sql) for sql in counts), (query, counts)


def sequential_scans(plan):
    """(relation, rows removed by its filter) of each sequential scan in an EXPLAIN (ANALYZE, FORMAT JSON) plan."""
    if plan["Node Type"] == "Seq Scan":
        yield plan["Relation Name"], plan.get("Rows Removed by Filter", 0)
    for child in plan.get("Plans", []):
        yield from sequential_scans(child)


@pytest.mark.postgres
def test_no_received_postbacks_list_reads_a_month_it_has_no_use_for_on_postgresql(admin_client, postbacks):
    seen = open_each(admin_client, postbacks)

    scans = []
    with connection.cursor() as cursor:
        # The table is partitioned by month, and the planner rightly reads a month whole when the filter keeps most of
        # its rows (this month under "7d", the empty months ahead). What must not happen is a scan that throws away more
        # rows than the count cap, which an index would have skipped: the actual rows its filter removed say so.
        for query, sqls in seen.items():
            for sql in (sql for sql in sqls if TABLE in sql and sql.lstrip().upper().startswith("SELECT")):
                cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
                (plan,) = cursor.fetchone()[0]
                wasted = [(name, removed) for name, removed in sequential_scans(plan["Plan"]) if removed > COUNT_CAP]
                if wasted:
                    scans.append((query, sql, wasted))

    assert scans == []
