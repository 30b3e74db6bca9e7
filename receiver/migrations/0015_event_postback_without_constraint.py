"""An event's link to its request loses its database constraint, so that the requests can be partitioned by month.

PostgreSQL lets a foreign key point at a partitioned table only through a unique key holding the partition column,
(id, received_at): the events would have to carry the request's date too. The link stays a ForeignKey to Django
(SET_NULL emulated, joins, the admin), with its index; retention clears it before it removes a request, by batch or by
month (postbacks_project/retention.py). SQLite rebuilds the events' table for it; PostgreSQL drops the constraint.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('receiver', '0014_network_preset'),
    ]

    operations = [
        migrations.AlterField(
            model_name='conversionevent',
            name='postback',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='events', to='receiver.receivedpostback'),
        ),
    ]
