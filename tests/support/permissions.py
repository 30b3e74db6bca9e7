"""Staff users holding exactly the permissions a test names, as an admin grants them to a support person."""

from django.contrib.auth.models import Permission, User


def staff_with(*names, username="staff"):
    """A staff user (not a superuser) with each permission named as app_label.codename."""
    user = User.objects.create_user(username, password="pw", is_staff=True)
    pairs = [name.split(".") for name in names]
    user.user_permissions.add(*[Permission.objects.get(content_type__app_label=a, codename=c) for a, c in pairs])
    return user
