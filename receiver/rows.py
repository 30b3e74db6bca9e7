"""The receiver's per-postback statements with their SQL built once per database: one-row INSERTs and the click
(with the configuration's token, read in the same statement).

Django's query compiler costs more than the statements themselves on the receiver's path (each INSERT of a
30-column row, the click with its offer). Here the SQL of each is made once per connection alias, and a request
pays only for its values: the fields' own get_db_prep_save() going in and their converters coming out, so that
what is stored and loaded is exactly what save() and a queryset would store and load.
"""

from contextlib import nullcontext
from functools import lru_cache

from django.db import connections, transaction
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


def insert_chained(instances, using=DEFAULT):
    """PostgreSQL: INSERT new rows that reference each other in one statement, the first with ON CONFLICT DO NOTHING;
    give each its id and its links to the earlier ones, and return True. False, and nothing written, when the first
    row's key exists already.

    Each row's foreign keys to the models before it in `instances` take those rows' new ids (one chained
    `INSERT ... RETURNING` per row in a CTE, each later one selecting from the earlier ones), so a row after the first
    exists only if the first was written. A single statement in autocommit is its own transaction: no BEGIN or
    COMMIT round trips.
    """
    connection = connections[using]
    sql, plans = _chained_statement(tuple(type(instance) for instance in instances), using)
    values = []
    for instance, (fields, _links) in zip(instances, plans, strict=True):
        values += [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    # Inside a caller's transaction the statement gets a savepoint, as rows written through atomic() would.
    with (
        transaction.atomic(using=using) if connection.in_atomic_block else nullcontext(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, values)
        returned = cursor.fetchone()
    if returned is None:
        return False
    for instance, pk, (_fields, links) in zip(instances, returned, plans, strict=True):
        instance.pk = pk
        instance._state.adding = False
        instance._state.db = using
        for field, earlier in links:
            # Setting the id clears the cached related row; keep the one given, which has that id now.
            setattr(instance, field.attname, returned[earlier])
            field.set_cached_value(instance, instances[earlier])
    return True


@lru_cache(maxsize=8)
def _chained_statement(models, using):
    """(sql, per model: (the fields it takes values for, its (foreign key, index of the earlier row))."""
    quote = connections[using].ops.quote_name
    first_sql, first_fields = _insert_statement(models[0], using, True)
    ctes, plans = [f"t0 AS ({first_sql})"], [(first_fields, ())]
    for index, model in enumerate(models[1:], start=1):
        meta = model._meta
        columns, selected, fields, links = [], [], [], []
        for field in meta.local_concrete_fields:
            if field is meta.pk or field.generated:
                continue
            columns.append(quote(field.column))
            earlier = models.index(field.related_model) if field.related_model in models[:index] else None
            if earlier is None:
                selected.append("%s")
                fields.append(field)
            else:
                selected.append(f"t{earlier}.{quote(models[earlier]._meta.pk.column)}")
                links.append((field, earlier))
        if not links:
            raise ValueError(f"{meta.label} has no foreign key to a row before it in the chain")
        sources = ", ".join(sorted({f"t{earlier}" for _field, earlier in links}))
        ctes.append(
            f"t{index} AS (INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) SELECT {', '.join(selected)} "
            f"FROM {sources} RETURNING {quote(meta.pk.column)})"
        )
        plans.append((fields, tuple(links)))
    names = [f"t{index}" for index in range(len(models))]
    ids = ", ".join(f"{name}.{quote(model._meta.pk.column)}" for name, model in zip(names, models, strict=True))
    return f"WITH {', '.join(ctes)} SELECT {ids} FROM {', '.join(names)}", plans


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
