"""On PostgreSQL, received postbacks become a table partitioned by month of received_at, so old months are dropped whole.

The same rebuild as partners/migrations/0016_partition_attempts (which bench/results.md, "Partitions against batched
deletes", and bench/README.md, "Partitioned prune", measured): the key becomes (id, received_at), Django still reads
id as the key, which holds because id comes from the identity sequence alone. A partitioned table is created beside
the old one (columns, defaults, checks and identity copied with LIKE), one partition per month the rows span plus
MONTHS_AHEAD and a DEFAULT one, the rows copied under a lock that lets reads through, the old table dropped and the
names, indexes, foreign keys (to the network and the conversion) and sequence position carried over. The reverse
rebuilds a plain table the same way. SQLite keeps its plain table.

Nothing may point at the table (the rebuild refuses otherwise): the events' link to their request lost its constraint
in 0015 for this, and stays without one either way; retention clears it before a month goes. The SQL is a copy of the
attempts' migration, not imported from it or from postbacks_project/partitions.py: a migration must keep doing what
it did when those change, and receiver does not import partners.
"""

from datetime import UTC, datetime

from django.db import migrations

TABLE = "receiver_receivedpostback"
COLUMN = "received_at"
MONTHS_AHEAD = 3


def month_of(moment):
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(month):
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


def rebuild(cursor, partitioned):
    new = f"{TABLE}__rebuilt"
    cursor.execute(
        "SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f' AND confrelid = %s::regclass", [TABLE]
    )
    if pointing := [name for (name,) in cursor.fetchall()]:
        raise RuntimeError(f"{', '.join(pointing)} point at {TABLE}: its rows cannot move to a rebuilt table")
    # Writers wait until the swap commits; readers go on reading the old table meanwhile.
    cursor.execute(f"LOCK TABLE {TABLE} IN EXCLUSIVE MODE")
    # The deferred foreign key checks of rows written earlier in this transaction, before their table goes.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s AND indexname <> %s",
        [TABLE, f"{TABLE}_pkey"],
    )
    # A partitioned table's index is defined ON ONLY the parent; the rebuilt one's spans its partitions again.
    indexes = [definition.replace(" ON ONLY ", " ON ") for (definition,) in cursor.fetchall()]
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' AND conrelid = %s::regclass",
        [TABLE],
    )
    foreign_keys = cursor.fetchall()
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
    (sequence,) = cursor.fetchone()
    cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
    last_value, is_called = cursor.fetchone()

    like = f"LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING STORAGE"
    if partitioned:
        cursor.execute(f"CREATE TABLE {new} ({like}, PRIMARY KEY (id, {COLUMN})) PARTITION BY RANGE ({COLUMN})")
        cursor.execute(f"SELECT MIN({COLUMN}) FROM {TABLE}")
        low = month_of(cursor.fetchone()[0] or datetime.now(UTC))
        last = month_of(datetime.now(UTC))
        for _ in range(MONTHS_AHEAD):
            last = next_month(last)
        while low <= last:
            cursor.execute(
                f"CREATE TABLE {TABLE}_p{low:%Y_%m} PARTITION OF {new} "
                f"FOR VALUES FROM ('{low.isoformat()}') TO ('{next_month(low).isoformat()}')"
            )
            low = next_month(low)
        cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {new} DEFAULT")
    else:
        cursor.execute(f"CREATE TABLE {new} ({like}, PRIMARY KEY (id))")
    cursor.execute(f"INSERT INTO {new} SELECT * FROM {TABLE}")
    cursor.execute(f"DROP TABLE {TABLE}")
    cursor.execute(f"ALTER TABLE {new} RENAME TO {TABLE}")
    cursor.execute(f"ALTER TABLE {TABLE} RENAME CONSTRAINT {new}_pkey TO {TABLE}_pkey")
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
    (rebuilt_sequence,) = cursor.fetchone()
    cursor.execute(f"ALTER SEQUENCE {rebuilt_sequence} RENAME TO {sequence.rsplit('.', 1)[-1]}")
    cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, %s)", [TABLE, last_value, is_called])
    for definition in indexes:
        cursor.execute(definition)
    for name, definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} {definition}")


def is_partitioned(cursor):
    cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass)", [TABLE])
    return cursor.fetchone()[0]


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if not is_partitioned(cursor):
            rebuild(cursor, partitioned=True)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if is_partitioned(cursor):
            rebuild(cursor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [("receiver", "0015_event_postback_without_constraint")]

    operations = [migrations.RunPython(partition, unpartition, elidable=False)]
