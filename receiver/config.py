"""A process's copy of the configuration every postback and delivery reads (networks, partners, shares), kept current.

Each lookup reads one token from the database (a one-row table, queried without the ORM); when it differs from
the token the copy was loaded under, the copy is loaded again. Every change that can alter a lookup's answer sets a
new token in the changing transaction (signals on save, delete and the m2m tables, plus the few queryset updates
that bypass them), so no process answers from a stale copy once that transaction has committed, and each process
pays one cheap query instead of several. The receiver's hot path saves even that one: it reads the copy it holds
unconfirmed (`held`) and confirms the token in a statement it makes anyway (`TOKEN_SQL` folded into it), going
round again on a current copy when the two differ.
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


def held(name, load):
    """(value, token) of the copy held now, its token unconfirmed: the caller compares the token with one it reads
    later (TOKEN_SQL in its own statement) and acts on the value only when they match. Without a copy, one is
    loaded as cached() does and the token is None: that copy is current, nothing to confirm."""
    copy = _copies.get(name)
    if copy is not None:
        return copy[1], copy[0]
    return cached(name, load), None


def current(token):
    """Whether `token` is still the configuration's token (one statement)."""
    return token == _token()


def changed(**kwargs):
    """Record a change (also a signal receiver): a new token for every process, this one's copies dropped now."""
    token = uuid.uuid4().hex
    with _lock:
        _copies.clear()
    ConfigVersion.objects.update_or_create(pk=1, defaults={"token": token})


# The token as a scalar subquery, for a statement that reads it alongside its own columns; NULL without a row.
TOKEN_SQL = f"(SELECT token FROM {ConfigVersion._meta.db_table} WHERE id = 1)"


def _token():
    # No row yet (a fresh or flushed database): nothing is cached.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {TOKEN_SQL}")
        return cursor.fetchone()[0]
