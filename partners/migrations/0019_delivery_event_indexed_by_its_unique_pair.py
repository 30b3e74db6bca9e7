"""The deliveries' event_id loses its own index: one_delivery_per_event_destination (event, destination) leads with
it and serves every lookup by event, and every insert, lock and record of a delivery wrote both.

Only the index is dropped: the AlterField that makemigrations writes would rebuild the whole table on SQLite and, on
PostgreSQL, drop the foreign key and check it again over every delivery while writes wait.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "partners_delivery_event_id_b5908bc2"


class Migration(migrations.Migration):
    dependencies = [("partners", "0018_destinations"), ("receiver", "0016_partition_received_postbacks")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="delivery",
                    name="event",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="receiver.conversionevent",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "partners_delivery" ("event_id")',
                ),
            ],
        ),
    ]
