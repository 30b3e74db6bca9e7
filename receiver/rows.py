"""The receiver's per-postback statements with their SQL built once per database: one-row INSERTs and the click
(with the configuration's token, read in the same statement).

Django's query compiler costs more than the statements themselves on the receiver's path (each INSERT of a
30-column row, the click with its offer). Here the SQL of each is made once per connection alias, and a request
pays only for its values: the fields' own get_db_prep_save() going in and their converters coming out, so that
what is stored and loaded is exactly what save() and a queryset would store and load.
"""

from functools import lru_cache

from django.db import connections
from django.db.models.constants import OnConflict

from .config import TOKEN_SQL
from .models import Click, Offer

DEFAULT = "default"


def insert(instance, ignore_conflicts=False, using=DEFAULT):
    """INSERT a new row for `instance` and give it its id; False (nothing written) when `ignore_conflicts` and a
    unique constraint already holds its key. Like save() of a new row without the model signals, which none of the
    models inserted here has a receiver for."""
    connection = connections[using]
    sql, fields = _insert_statement(type(instance), using, ignore_conflicts)
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        returned = cursor.fetchone()
    if returned is None:
        return False
    instance.pk = returned[0]
    instance._state.adding = False
    instance._state.db = using
    return True


@lru_cache(maxsize=32)
def _insert_statement(model, using, ignore_conflicts):
    connection = connections[using]
    ops, meta = connection.ops, model._meta
    fields = [field for field in meta.local_concrete_fields if field is not meta.pk and not field.generated]
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    returning, _params = ops.return_insert_columns([meta.pk])
    sql = " ".join(
        part
        for part in (
            ops.insert_statement(on_conflict=on_conflict),
            ops.quote_name(meta.db_table),
            f"({', '.join(ops.quote_name(field.column) for field in fields)})",
            f"VALUES ({', '.join(['%s'] * len(fields))})",
            ops.on_conflict_suffix_sql(fields, on_conflict, None, None),
            returning,
        )
        if part
    )
    return sql, fields


def click_for(click_id, network_id, using=DEFAULT):
    """(our click with this id on one of this network's offers, its offer loaded with it, or None; the
    configuration's token now, which confirms a copy read unconfirmed: receiver.config.held)."""
    connection = connections[using]
    sql, click_names, offer_names, converters = _click_statement(using)
    with connection.cursor() as cursor:
        cursor.execute(sql, [click_id, network_id])
        token, *values = cursor.fetchone()
    if values[0] is None:  # the click's id: the outer join found no click
        return None, token
    for index, column, functions in converters:
        for function in functions:
            values[index] = function(values[index], column, connection)
    click = Click.from_db(using, click_names, values[: len(click_names)])
    offer = Offer.from_db(using, offer_names, values[len(click_names) :])
    Click.offer.field.set_cached_value(click, offer)
    return click, token


@lru_cache(maxsize=4)
def _click_statement(using):
    """(sql, the click's and the offer's attribute names, the converters of the columns that have any)."""
    connection = connections[using]
    quote = connection.ops.quote_name
    clicks, offers = Click._meta.db_table, Offer._meta.db_table
    columns = [field.get_col(clicks) for field in Click._meta.concrete_fields]
    columns += [field.get_col(offers) for field in Offer._meta.concrete_fields]
    selected = ", ".join(f"{quote(column.alias)}.{quote(column.target.column)}" for column in columns)

    def column(model, name):
        return f"{quote(model._meta.db_table)}.{quote(model._meta.get_field(name).column)}"

    # One row always, the token's, joined to the click when there is one. click_id is unique: no ORDER BY or LIMIT,
    # and the network is checked in the same statement.
    sql = (
        f"SELECT {TOKEN_SQL}, {selected} FROM (SELECT 1 AS one) AS driver LEFT OUTER JOIN ({quote(clicks)} "
        f"INNER JOIN {quote(offers)} ON {column(Offer, 'id')} = {column(Click, 'offer')}) ON "
        f"{column(Click, 'click_id')} = %s AND {column(Offer, 'network')} = %s"
    )
    converters = []
    for index, col in enumerate(columns):
        functions = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if functions:
            converters.append((index, col, functions))
    names = [field.attname for field in Click._meta.concrete_fields], [f.attname for f in Offer._meta.concrete_fields]
    return sql, *names, converters
