"""The deliveries' event_id loses its own index: one_delivery_per_event_destination (event, destination) leads with
it and serves every lookup by event, and every insert, lock and record of a delivery wrote both."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("partners", "0018_destinations"), ("receiver", "0016_partition_received_postbacks")]

    operations = [
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
    ]
