"""manage.py ensure_admin: create the first superuser from ADMIN_USER/ADMIN_PASSWORD, if both are set."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create or update a superuser from ADMIN_USER and ADMIN_PASSWORD; without them, say how to make one."

    def handle(self, *args, **opts):
        username, password = os.environ.get("ADMIN_USER", ""), os.environ.get("ADMIN_PASSWORD", "")
        if not (username and password):
            if not get_user_model().objects.filter(is_superuser=True).exists():
                self.stdout.write(
                    "No admin user yet: run .venv/bin/python manage.py createsuperuser, "
                    "or start with ADMIN_USER=... ADMIN_PASSWORD=... make run"
                )
            return
        user, created = get_user_model().objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(f"admin user {username!r} {'created' if created else 'updated'}")
