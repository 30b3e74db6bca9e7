"""Who may use the API and the staff tools: staff users holding the Django permission for what they do."""

from functools import wraps

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import DjangoModelPermissions

VIEW = "%(app_label)s.view_%(model_name)s"


class StaffPermissions(DjangoModelPermissions):
    """Staff holding every permission the request needs (a superuser holds them all); the 403 names what is missing.

    On a model's views: view for reads (DRF asks none, so a staff user without it could read everything), add for
    POST, change for PUT and PATCH. An extra action names its own in the view's `action_permissions`; a view with no
    model gets its class from `requires`.
    """

    perms_map = {**DjangoModelPermissions.perms_map, "GET": [VIEW], "HEAD": [VIEW], "OPTIONS": [VIEW]}
    required = None

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            self.message = "Not a staff user."
            return False
        missing = [perm for perm in self.required_permissions(request, view) if not user.has_perm(perm)]
        if missing:
            self.message = f"Lacks the permission {', '.join(missing)}."
            return False
        return True

    def required_permissions(self, request, view):
        if self.required is not None:
            return self.required
        by_action = getattr(view, "action_permissions", {})
        action = getattr(view, "action", None)
        if action in by_action:
            return by_action[action]
        return self.get_required_permissions(request.method, self._queryset(view).model)


def requires(*permissions):
    """The permission class of an API view with no model (a tool, a report): staff holding every one of them."""
    return type("StaffPermissions", (StaffPermissions,), {"required": permissions})


def staff_page(view, permission):
    """An admin page outside the model admin: the login page for others, the 403 page for staff without it."""

    @wraps(view)
    def checked(request, *args, **kwargs):
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return admin.site.admin_view(checked)
