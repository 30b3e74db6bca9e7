"""SQLite's writers queue on a lock file, so that one process's write transaction waits for another's to end."""

import subprocess
import sys

import pytest
from django.db import connection, transaction

from postbacks_project.db import write_transaction

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="the lock file is for SQLite only")

TRY_LOCK = """
import fcntl, sys
with open(sys.argv[1], "a") as lock_file:
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("taken")
    else:
        print("free")
"""


def _from_another_process():
    lock_path = f"{connection.settings_dict['NAME']}.writer-lock"
    return subprocess.run([sys.executable, "-c", TRY_LOCK, lock_path], capture_output=True, text=True).stdout.strip()


@pytest.mark.django_db(transaction=True)
def test_another_process_cannot_write_while_a_write_transaction_is_open():
    with write_transaction():
        during = _from_another_process()

    assert during == "taken"
    assert _from_another_process() == "free"


@pytest.mark.django_db(transaction=True)
def test_inside_an_enclosing_transaction_nothing_more_is_locked():
    with transaction.atomic(), write_transaction():
        assert connection.in_atomic_block
        assert _from_another_process() == "free"


@pytest.mark.django_db(transaction=True)
def test_a_write_made_on_commit_does_not_wait_for_its_own_lock():
    written = []

    with write_transaction():
        transaction.on_commit(lambda: _write_again(written))

    assert written == ["again"]


def _write_again(written):
    with write_transaction():
        written.append("again")
