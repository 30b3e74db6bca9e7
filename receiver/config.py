"""A process's copy of the configuration every postback and delivery reads (networks, partners, shares), kept current.

Each lookup reads one token from the database (a one-row table, queried without the ORM); when it
differs from the token the copy was loaded under, the copy is loaded again. Every change that can
alter a lookup's answer sets a new token in the changing transaction (signals on save, delete and
the m2m tables, plus the few queryset updates that bypass them), so no process answers from a stale
copy once that transaction has committed, and each process pays one cheap query instead of several.
"""

import threading
import uuid

from django.db import connection

from .models import ConfigVersion

_copies = {}
_lock = threading.Lock()


def cached(name, load):
    """load()'s result, loaded again only when the configuration has changed since it was loaded."""
    token = _token()
    held = _copies.get(name)
    if held is not None and token is not None and held[0] == token:
        return held[1]
    value = load()
    if token is not None:
        with _lock:
            _copies[name] = (token, value)
    return value


def changed(**kwargs):
    """Record a change (also a signal receiver): a new token for every process, this one's copies dropped now."""
    token = uuid.uuid4().hex
    with _lock:
        _copies.clear()
    ConfigVersion.objects.update_or_create(pk=1, defaults={"token": token})


def _token():
    # No row yet (a fresh or flushed database): nothing is cached.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT token FROM {ConfigVersion._meta.db_table} WHERE id = 1")
        row = cursor.fetchone()
    return row[0] if row else None
