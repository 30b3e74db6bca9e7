"""The big admin lists' row estimate on PostgreSQL: a table partitioned by month is the sum of its partitions'."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from postbacks_project import partitions
from postbacks_project.admin_scale import table_estimate
from receiver.models import ReceivedPostback

pytestmark = pytest.mark.postgres

TABLE = ReceivedPostback._meta.db_table


def test_a_partitioned_table_is_estimated_from_its_partitions_as_autovacuum_leaves_them(db):
    ReceivedPostback.objects.bulk_create(
        ReceivedPostback(method="GET", path="/postback/***/", outcome="accepted", received_at=timezone.now() - delta)
        for delta in [timedelta(0)] * 30 + [timedelta(days=400)] * 20
    )
    # Autovacuum analyzes each partition, never the partitioned table: its own estimate stays unset (-1), or as old
    # as the last hand-run ANALYZE of it (an earlier test's, here: catalog statistics outlive a rolled-back test).
    with connection.cursor() as cursor:
        for partition in partitions.partitions(TABLE):
            cursor.execute(f"ANALYZE {partition.name}")

    assert table_estimate(ReceivedPostback.objects.all()) == 50
    assert table_estimate(ReceivedPostback.objects.filter(outcome="accepted")) is None
