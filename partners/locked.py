"""The deliveries a lease holds, read back with their event, conversion and offer by one statement built once per
process, and turned into linked model instances as select_related() makes them.

The drainer reads a batch back every round; building and compiling that four-table query through the ORM cost the
round more than the database took to answer it (bench/README.md, the drainer's profile).
"""

from functools import cache
from typing import NamedTuple

from django.db import connection

from receiver.models import Conversion, ConversionEvent, Offer

from .models import Delivery, State

# Each model, the alias of its table, and the foreign key from the model before it (the offer may be missing).
CHAIN = ((Delivery, "d", None), (ConversionEvent, "e", "event"), (Conversion, "c", "conversion"), (Offer, "o", "offer"))


class Part(NamedTuple):
    model: type
    link: object  # the foreign key, on the model before this one, whose cached value this instance becomes
    start: int  # where its columns start in a row
    names: list  # its concrete fields' attribute names, in column order
    pk: int  # the index of its primary key among them
    converters: list  # (index, [(converter, expression)]) for the columns the database hands back unconverted


def locked(lease):
    """The deliveries in flight under `lease`, oldest due first, each with its event, conversion and offer."""
    sql, parts = _statement(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [lease, State.SENDING])
        rows = cursor.fetchall()
    return [_instances(row, parts) for row in rows]


def _instances(row, parts):
    first = previous = None
    for part in parts:
        values = list(row[part.start : part.start + len(part.names)])
        for index, converters in part.converters:
            for converter, expression in converters:
                values[index] = converter(values[index], expression, connection)
        instance = None if values[part.pk] is None else part.model.from_db(connection.alias, part.names, values)
        if previous is None:
            first = instance
        else:
            part.link.set_cached_value(previous, instance)
        previous = instance
        if instance is None:
            break
    return first


@cache
def _statement(vendor):
    """The SELECT and its Parts, for the database `vendor` (its converters differ)."""
    quote = connection.ops.quote_name
    columns, tables, parts = [], [], []
    before = previous_alias = None
    for model, alias, link_name in CHAIN:
        fields = model._meta.concrete_fields
        link = before._meta.get_field(link_name) if link_name else None
        converters = []
        for index, field in enumerate(fields):
            column = field.get_col(alias)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                converters.append((index, [(converter, column) for converter in found]))
        columns += [f"{alias}.{quote(field.column)}" for field in fields]
        table = f"{quote(model._meta.db_table)} {alias}"
        if link is None:
            tables.append(table)
        else:
            join = "LEFT JOIN" if link.null else "JOIN"
            on = f"{alias}.{quote(model._meta.pk.column)} = {previous_alias}.{quote(link.column)}"
            tables.append(f"{join} {table} ON {on}")
        names = [field.attname for field in fields]
        parts.append(Part(model, link, len(columns) - len(fields), names, fields.index(model._meta.pk), converters))
        before, previous_alias = model, alias
    sql = (
        f"SELECT {', '.join(columns)} FROM {' '.join(tables)} "
        f"WHERE d.{quote('lease')} = %s AND d.{quote('state')} = %s "
        f"ORDER BY d.{quote('next_attempt_at')}, d.{quote('id')}"
    )
    return sql, parts
