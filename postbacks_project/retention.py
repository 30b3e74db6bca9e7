"""Retention: delete the rows each RETAIN_*_DAYS lets go, in small batches, and never the money record.

Pruned: raw requests (receiver's received postbacks), delivery attempts, test postbacks, and clicks that no
conversion points at. Never pruned: conversions, their events, points entries and deliveries (a delivery keeps its
summary: attempts, last status code, last error). The one money row a prune writes to is an event whose request
is pruned: its `postback` link becomes NULL, as the model's SET_NULL says, before the request goes (the database does
not enforce that link: it is the prune's to keep).

Each batch is its own short transaction (postbacks_project.db.write_transaction, so that on SQLite it queues for
the one writer like the receiver does) deleting at most PRUNE_BATCH_SIZE rows by primary key: no table lock, and
the receiver and the workers wait at most one batch. A table partitioned by month on PostgreSQL (received postbacks
and delivery attempts, postbacks_project/partitions.py) first gets its months ahead, then loses its months older than
the cutoff whole (DETACH + DROP: the disk comes back at once), each after the links into it are cleared in batches;
the batches then take what is left older than the cutoff: the rows of the month the cutoff falls in, of the DEFAULT
partition, and of a month whose lock was not granted. The tables are named by label, not imported, because this
module sits below the apps (DESIGN.md: testing_tools -> partners -> receiver -> postbacks_project).
"""

import time
from dataclasses import dataclass
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Exists, OuterRef
from django.utils import timezone

from postbacks_project import partitions
from postbacks_project.db import write_transaction


@dataclass(frozen=True)
class Table:
    setting: str
    model: str
    date_field: str
    # Rows pointing here whose link is cleared before the delete: (model label, field).
    unlink: tuple = ()
    # Rows pointing here that keep the row alive (a click a conversion matched): (model label, field).
    kept_by: tuple = ()
    # Further date fields that must be older than the cutoff too (a test postback still due is kept).
    also_before: tuple = ()
    # Monthly partitions on PostgreSQL, when the table has them: old months are dropped whole. Only for a table
    # that nothing keeps alive (a drop spares no row) and whose links are all unlink ones without a database
    # constraint (PostgreSQL allows none to a partitioned table but through its partition column), cleared first.
    by_month: bool = False


TABLES = (
    Table(
        "RETAIN_RECEIVED_DAYS",
        "receiver.ReceivedPostback",
        "received_at",
        unlink=(("receiver.ConversionEvent", "postback"),),
        by_month=True,
    ),
    Table("RETAIN_ATTEMPTS_DAYS", "partners.DeliveryAttempt", "created_at", by_month=True),
    Table("RETAIN_TEST_POSTBACKS_DAYS", "testing_tools.TestPostback", "created_at", also_before=("scheduled_for",)),
    Table("RETAIN_CLICKS_DAYS", "receiver.Click", "created_at", kept_by=(("receiver.Conversion", "known_click"),)),
    Table(
        "RETAIN_CLICKS_DAYS", "receiver.NetworkClick", "created_at", kept_by=(("receiver.Conversion", "network_click"),)
    ),
)


def check_relations(table):
    """Refuse a table that some model points at in a way retention does not handle.

    The delete is one SQL statement that bypasses Django's on_delete emulation, so every foreign key into a pruned
    table must be listed here: cleared (unlink) or keeping the row (kept_by). A new model pointing at one (a CASCADE
    from a money table, say) stops the prune instead of being deleted or broken without anyone deciding.
    """
    model = apps.get_model(table.model)
    for relation in model._meta.related_objects:
        link = (relation.related_model._meta.label, relation.field.name)
        if table.by_month:
            # A dropped month spares no row, and takes its rows at once: only a link cleared first can point at it,
            # and only one the database does not enforce (its constraint would need the partition column too).
            handled = link in table.unlink and not relation.field.db_constraint
        else:
            handled = link in table.unlink or link in table.kept_by
        if not handled:
            raise ImproperlyConfigured(
                f"{link[0]}.{link[1]} points at {table.model}, which {table.setting} prunes: add it to "
                f"postbacks_project.retention.TABLES ("
                + (
                    "unlink, with db_constraint=False, as by_month drops whole months; or not by_month)"
                    if table.by_month
                    else "unlink or kept_by)"
                )
            )
    return model


def prunable(table, model, cutoff):
    """The rows of `table` that retention lets go: older than `cutoff` and not kept alive by a reference."""
    rows = model._base_manager.filter(**{f"{table.date_field}__lt": cutoff})
    for field in table.also_before:
        rows = rows.filter(**{f"{field}__lt": cutoff})
    for label, field in table.kept_by:
        rows = rows.filter(~Exists(apps.get_model(label)._base_manager.filter(**{field: OuterRef("pk")})))
    return rows


def prune(dry_run=False, batch_size=None, now=None):
    """Delete (or, dry, count) each table's old rows; one report row per table, in TABLES order."""
    batch_size = batch_size or settings.PRUNE_BATCH_SIZE
    now = now or timezone.now()
    report = []
    for table in TABLES:
        model = check_relations(table)
        days = getattr(settings, table.setting)
        row = {
            "table": model._meta.db_table,
            "setting": table.setting,
            "days": days,
            "older_than": None,
            "rows": 0,
            # Rows elsewhere whose link to a deleted row was cleared (events whose request is pruned).
            "unlinked": 0,
            "batches": 0,
            "seconds": 0.0,
            # Partitions made ahead, dropped ({partition, rows}) and left as their lock was busy ({partition, wanted}).
            "created": [],
            "dropped": [],
            "busy": [],
        }
        report.append(row)
        by_month = table.by_month and partitions.is_partitioned(model._meta.db_table)
        started = time.monotonic()
        if by_month:
            # Whatever the retention, so that new rows find their month and not the DEFAULT partition.
            _create_months(row, model, table, now, dry_run)
        if days:
            cutoff = now - timedelta(days=days)
            row["older_than"] = cutoff
            if by_month:
                _drop_months(row, table, model, cutoff, batch_size, dry_run)
            _delete(row, table, model, cutoff, batch_size, dry_run)
        row["seconds"] = round(time.monotonic() - started, 3)
    return report


def _create_months(row, model, table, now, dry_run):
    for name, low, high in partitions.missing_months(model._meta.db_table, now):
        try:
            if not dry_run:
                partitions.create_month(
                    model._meta.db_table, model._meta.get_field(table.date_field).column, name, low, high
                )
            row["created"].append(name)
        except partitions.Busy:
            # Its rows go to the DEFAULT partition meanwhile; the month is made on the next run, its rows moved in.
            row["busy"].append({"partition": name, "wanted": "create"})


def _drop_months(row, table, model, cutoff, batch_size, dry_run):
    for partition in partitions.older_than(model._meta.db_table, cutoff):
        # Counted before the drop, outside its lock: a month past the cutoff takes no new rows.
        count = partitions.rows_in(partition)
        try:
            if not dry_run:
                if table.unlink:
                    # The links into the month go first, in batches (a dry run counts them with the rest, in _delete).
                    month = model._base_manager.filter(
                        **{f"{table.date_field}__gte": partition.low, f"{table.date_field}__lt": partition.high}
                    )
                    row["unlinked"] += _unlink_in_batches(table, month, batch_size)
                partitions.drop(model._meta.db_table, partition)
            row["dropped"].append({"partition": partition.name, "rows": count})
        except partitions.Busy:
            # Its rows are deleted in batches below, which take no lock on the whole table.
            row["busy"].append({"partition": partition.name, "wanted": "drop"})


def _delete(row, table, model, cutoff, batch_size, dry_run):
    rows = prunable(table, model, cutoff)
    dropped = sum(partition["rows"] for partition in row["dropped"])
    if dry_run:
        # The rows of the months that would be dropped are still there, and counted: they go without a batch.
        row["rows"] = rows.count()
        row["batches"] = -(-(row["rows"] - dropped) // batch_size)
        row["unlinked"] = sum(
            apps.get_model(label)._base_manager.filter(**{f"{field}__in": rows.values("pk")}).count()
            for label, field in table.unlink
        )
    else:
        deleted, unlinked, row["batches"] = _delete_in_batches(table, rows, batch_size)
        row["unlinked"] += unlinked
        row["rows"] = dropped + deleted


def _unlink_in_batches(table, rows, batch_size):
    """Clear the unlink fields pointing at `rows`, PRUNE_BATCH_SIZE rows at a time; the links cleared.

    Before a month is dropped: the receiver links an event only to the request it is storing, never to one of a month
    past the cutoff, so once cleared no link comes back before the drop.
    """
    unlinked = 0
    for ids in _id_batches(rows, batch_size):
        with write_transaction():
            unlinked += _unlink(table, ids)
    return unlinked


def _unlink(table, ids):
    return sum(
        apps.get_model(label)._base_manager.filter(**{f"{field}__in": ids}).update(**{field: None})
        for label, field in table.unlink
    )


def _id_batches(rows, batch_size):
    """The ids of `rows` in primary-key order, batch_size at a time, each batch read from where the last one ended
    (after the caller's work on it): rows a batch kept alive are not read again."""
    last = 0
    while ids := list(rows.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size]):
        last = ids[-1]
        yield ids


def _delete_in_batches(table, rows, batch_size):
    """(rows deleted, links cleared, batches)."""
    deleted = unlinked = batches = 0
    for ids in _id_batches(rows, batch_size):
        with write_transaction():
            unlinked += _unlink(table, ids)
            # The conditions again, inside the transaction: a click a conversion matched since the read stays.
            # _raw_delete is one DELETE ... WHERE id IN (...): QuerySet.delete() would load every row (bodies
            # and headers included) to emulate on_delete, which the UPDATE above has done already.
            doomed = rows.filter(pk__in=ids)
            deleted += doomed._raw_delete(doomed.db)
        batches += 1
    return deleted, unlinked, batches
