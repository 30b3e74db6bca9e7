"""Fill the receiver's tables with N accepted postbacks in a few bulk statements, for bench/receiver.py --preload.

Run as `python bench/preload.py N` with the benchmark's environment, after at least one postback was accepted:
its rows (received postback, conversion, created event) are the template copied N times with new click and
transaction ids, by INSERT ... SELECT over generate_series (PostgreSQL) or a recursive CTE (SQLite). Copying
whole rows keeps every column the models have today filled as the receiver fills it. Prints one JSON line.
"""

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def series(vendor, count):
    """A CTE s(n) of 1..count."""
    if vendor == "postgresql":
        return f"WITH s(n) AS (SELECT generate_series(1, {count:d}))"
    return f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count:d})"


def copy_sql(model, replaced, source, where):
    """INSERT INTO model's table every column but the id, from `source`, with `replaced` {column: SQL expression}."""
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    values = ", ".join(replaced.get(column, f"t.{column}") for column in columns)
    return f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {values} FROM {source} WHERE {where}"


def preload(count, prefix):
    from django.db import connection, transaction

    from receiver.models import Conversion, ConversionEvent, Outcome, ReceivedPostback

    postback = ReceivedPostback.objects.filter(outcome=Outcome.ACCEPTED, conversion__isnull=False).latest("id")
    event = ConversionEvent.objects.filter(postback=postback).latest("id")
    click = f"'{prefix}-' || s.n"
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        first_conversion = Conversion.objects.order_by("-id").values_list("id", flat=True).first() + 1
        first_postback = ReceivedPostback.objects.order_by("-id").values_list("id", flat=True).first() + 1
        cursor.execute(
            series(connection.vendor, count)
            + " "
            + copy_sql(
                Conversion,
                {"click_id": click, "dedupe_id": f"'tx-' || {click}", "transaction_id": f"'tx-' || {click}"},
                f"{Conversion._meta.db_table} t, s",
                f"t.id = {postback.conversion_id:d}",
            )
        )
        # One received postback per new conversion, linked to it (the ids are new, so > first_conversion).
        cursor.execute(
            copy_sql(
                ReceivedPostback,
                {"conversion_id": "c.id", "click_id": "c.click_id", "query": "'click_id=' || c.click_id"},
                f"{ReceivedPostback._meta.db_table} t, {Conversion._meta.db_table} c",
                f"t.id = {postback.pk:d} AND c.id >= {first_conversion:d}",
            )
        )
        cursor.execute(
            copy_sql(
                ConversionEvent,
                {"conversion_id": "r.conversion_id", "postback_id": "r.id"},
                f"{ConversionEvent._meta.db_table} t, {ReceivedPostback._meta.db_table} r",
                f"t.id = {event.pk:d} AND r.id >= {first_postback:d}",
            )
        )
    # Fresh planner statistics, as autovacuum (PostgreSQL) would have gathered them over a million inserts.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "preloaded": count,
        "seconds": round(time.monotonic() - started, 1),
        "conversions": Conversion.objects.count(),
        "received_postbacks": ReceivedPostback.objects.count(),
        "events": ConversionEvent.objects.count(),
    }


def main():
    # The project root first: its `receiver` app, not bench/receiver.py next to this file.
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    print(json.dumps(preload(int(sys.argv[1]), sys.argv[2])))


if __name__ == "__main__":
    main()
