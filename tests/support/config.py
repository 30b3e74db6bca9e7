"""What another process's configuration change looks like from here: a new token, none of this process's signals."""

from django.db import connection

from receiver.models import ConfigVersion


def token_changed_elsewhere():
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {ConfigVersion._meta.db_table} SET token = %s WHERE id = 1", ["elsewhere"])
