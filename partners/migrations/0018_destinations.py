"""Deliveries target a destination: a partner, or a network's own postback that reports its offer claims.

The sending terms every destination has (URL, method, body, headers, limits, signing, switched off or failing) move
from the partner to partners_destination, each row keeping its id, so every row that points at a partner (offer
shares, the portal's, the test tool's) points at its destination too: the partner's id column becomes its link to
the destination. A partner row that was a network's outgoing postback becomes a NetworkPostback with the same id,
and leaves the partners. Deliveries and the breakers' health are keyed by the destination, with the same ids.
"""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

MOVED = [
    *("name", "is_active", "postback_url", "method", "body_template", "body_type", "headers", "max_concurrency"),
    *("max_per_second", "signing_secret", "previous_signing_secret", "previous_secret_until", "disabled_at"),
    *("disabled_reason", "failing_since", "created_at"),
]
HEALTH = [
    *("breaker", "consecutive_failures", "opened_at", "probe_at", "probe_interval", "last_success_at"),
    "last_failure_at",
]


def settle(schema_editor):
    """PostgreSQL refuses to alter a table with foreign key checks still deferred from rows written in the same
    transaction: check them now, before the schema changes that follow."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def copy_destinations(apps, schema_editor):
    Partner, Destination = apps.get_model("partners", "Partner"), apps.get_model("partners", "Destination")
    Destination.objects.bulk_create(
        Destination(id=row["id"], **{name: row[name] for name in MOVED})
        for row in Partner.objects.values("id", *MOVED).iterator()
    )
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('partners_destination', 'id'), COALESCE(MAX(id), 1), "
                "MAX(id) IS NOT NULL) FROM partners_destination"
            )
    settle(schema_editor)


def copy_network_postbacks(apps, schema_editor):
    Partner, NetworkPostback = apps.get_model("partners", "Partner"), apps.get_model("partners", "NetworkPostback")
    for pk, network_id in Partner.objects.filter(network__isnull=False).values_list("id", "network_id"):
        # raw: the destination row is there already; only the network postback's own row is written.
        NetworkPostback(destination_ptr_id=pk, network_id=network_id).save_base(raw=True)
    settle(schema_editor)


def point_deliveries(apps, schema_editor):
    apps.get_model("partners", "Delivery").objects.update(destination_id=models.F("partner_id"))
    settle(schema_editor)


def copy_health(apps, schema_editor):
    PartnerHealth = apps.get_model("partners", "PartnerHealth")
    DestinationHealth = apps.get_model("partners", "DestinationHealth")
    DestinationHealth.objects.bulk_create(
        DestinationHealth(destination_id=row["partner_id"], **{name: row[name] for name in HEALTH})
        for row in PartnerHealth.objects.values("partner_id", *HEALTH).iterator()
    )
    settle(schema_editor)


def drop_network_partners(apps, schema_editor):
    apps.get_model("partners", "Partner").objects.filter(network__isnull=False).delete()
    settle(schema_editor)


class PartnerBecomesDestination(migrations.operations.base.Operation):
    """Partner is a Destination now: its id column, kept, is the link to the destination row of the same id."""

    reversible = False

    def state_forwards(self, app_label, state):
        model = state.models[app_label, "partner"]
        model.bases = ("partners.destination",)
        model.fields.pop("id")
        model.fields = {"destination_ptr": self.link(), **model.fields}
        state.reload_model(app_label, "partner", delay=True)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        old = from_state.apps.get_model(app_label, "Partner")
        new = to_state.apps.get_model(app_label, "Partner")
        schema_editor.alter_field(new, old._meta.get_field("id"), new._meta.get_field("destination_ptr"))

    def describe(self):
        return "Partner becomes a Destination, keyed by its old id"

    @staticmethod
    def link():
        return models.OneToOneField(
            db_column="id",
            on_delete=django.db.models.deletion.CASCADE,
            parent_link=True,
            primary_key=True,
            serialize=False,
            to="partners.destination",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0017_delivery_due_in_id_order"),
        ("receiver", "0016_partition_received_postbacks"),
        ("portal", "0002_api_tokens_and_pending_changes"),
        ("testing_tools", "0004_attempt_error_codes"),
    ]

    operations = [
        migrations.CreateModel(
            name="Destination",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=120, unique=True)),
                ("is_active", models.BooleanField(default=True)),
                (
                    "postback_url",
                    models.CharField(
                        help_text="URL template with {macro} placeholders, e.g. "
                        "https://partner.example/pb?click={click_id}&amount={payout}.",
                        max_length=2000,
                    ),
                ),
                ("method", models.CharField(choices=[("GET", "Get"), ("POST", "Post")], default="GET", max_length=4)),
                (
                    "body_template",
                    models.TextField(
                        blank=True,
                        help_text="POST only. Form: a=1&click={click_id}. JSON: plain JSON with {macro} inside strings.",
                    ),
                ),
                (
                    "body_type",
                    models.CharField(
                        choices=[
                            ("form", "form (application/x-www-form-urlencoded)"),
                            ("json", "JSON (application/json)"),
                        ],
                        default="form",
                        max_length=4,
                    ),
                ),
                (
                    "headers",
                    models.JSONField(
                        blank=True, default=dict, help_text='Extra request headers, e.g. {"X-Token": "..."}.'
                    ),
                ),
                (
                    "max_concurrency",
                    models.PositiveSmallIntegerField(
                        blank=True,
                        help_text="Requests in flight to this destination at most, across all workers (empty: "
                        "DELIVERY_PARTNER_CONCURRENCY). A slow one holds no more than this; the others keep sending.",
                        null=True,
                        validators=[django.core.validators.MinValueValidator(1)],
                    ),
                ),
                (
                    "max_per_second",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="Requests per second to this destination at most, per worker process (empty: "
                        "DELIVERY_PARTNER_RATE, 0 there for no limit). A replay is throttled to it.",
                        null=True,
                        validators=[django.core.validators.MinValueValidator(1)],
                    ),
                ),
                (
                    "signing_secret",
                    models.CharField(
                        blank=True,
                        help_text="Standard Webhooks secret (whsec_ + base64). Set: every request carries webhook-id, "
                        "webhook-timestamp and webhook-signature headers.",
                        max_length=200,
                    ),
                ),
                (
                    "previous_signing_secret",
                    models.CharField(
                        blank=True,
                        editable=False,
                        help_text="The secret a rotation replaced: requests also carry its signature until "
                        "previous_secret_until.",
                        max_length=200,
                    ),
                ),
                (
                    "previous_secret_until",
                    models.DateTimeField(
                        blank=True,
                        editable=False,
                        help_text="When the secret a rotation replaced stops being signed with.",
                        null=True,
                    ),
                ),
                (
                    "disabled_at",
                    models.DateTimeField(blank=True, help_text="Set when we stopped sending on our own.", null=True),
                ),
                ("disabled_reason", models.TextField(blank=True)),
                (
                    "failing_since",
                    models.DateTimeField(
                        blank=True,
                        help_text="First failed attempt since the last success; cleared by a success.",
                        null=True,
                    ),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={"ordering": ["name"], "default_manager_name": "objects"},
        ),
        migrations.RunPython(copy_destinations, elidable=False),
        migrations.CreateModel(
            name="NetworkPostback",
            fields=[
                (
                    "destination_ptr",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        parent_link=True,
                        primary_key=True,
                        serialize=False,
                        to="partners.destination",
                    ),
                ),
                (
                    "network",
                    models.OneToOneField(
                        help_text="The network whose offer claims this reports.",
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="outgoing_postback",
                        to="receiver.network",
                    ),
                ),
            ],
            options={"verbose_name": "network postback", "ordering": ["name"], "default_manager_name": "objects"},
            bases=("partners.destination",),
        ),
        migrations.RunPython(copy_network_postbacks, elidable=False),
        migrations.AddField(
            model_name="delivery",
            name="destination",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="deliveries",
                to="partners.destination",
            ),
        ),
        migrations.RunPython(point_deliveries, elidable=False),
        migrations.RemoveConstraint(model_name="delivery", name="one_delivery_per_event_partner"),
        migrations.RemoveField(model_name="delivery", name="partner"),
        migrations.AlterField(
            model_name="delivery",
            name="destination",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="deliveries", to="partners.destination"
            ),
        ),
        migrations.AddConstraint(
            model_name="delivery",
            constraint=models.UniqueConstraint(
                fields=("event", "destination"), name="one_delivery_per_event_destination"
            ),
        ),
        migrations.CreateModel(
            name="DestinationHealth",
            fields=[
                (
                    "destination",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="health",
                        serialize=False,
                        to="partners.destination",
                    ),
                ),
                (
                    "breaker",
                    models.CharField(
                        choices=[
                            ("closed", "closed (sending)"),
                            ("open", "open (paused after consecutive failures)"),
                            ("half_open", "half-open (one probe in flight)"),
                        ],
                        default="closed",
                        max_length=10,
                    ),
                ),
                ("consecutive_failures", models.PositiveIntegerField(default=0)),
                ("opened_at", models.DateTimeField(blank=True, help_text="When the breaker last opened.", null=True)),
                (
                    "probe_at",
                    models.DateTimeField(blank=True, help_text="Open: when one probe request may go.", null=True),
                ),
                (
                    "probe_interval",
                    models.PositiveIntegerField(default=0, help_text="Seconds to the next probe; doubles per failure."),
                ),
                ("last_success_at", models.DateTimeField(blank=True, null=True)),
                ("last_failure_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={"verbose_name_plural": "destination health"},
        ),
        migrations.RunPython(copy_health, elidable=False),
        migrations.DeleteModel(name="PartnerHealth"),
        migrations.RunPython(drop_network_partners, elidable=False),
        migrations.RemoveField(model_name="partner", name="network"),
        *(migrations.RemoveField(model_name="partner", name=name) for name in MOVED),
        PartnerBecomesDestination(),
    ]
