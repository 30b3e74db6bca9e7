"""Who is a partner user and which partners they may see: every portal page goes through here."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from partners.models import Partner

LOGIN_URL = "portal:login"


def is_partner_user(user):
    """A non-staff active user with a membership: being staff (or superuser) never makes one a partner user."""
    if not (user.is_authenticated and user.is_active) or user.is_staff or user.is_superuser:
        return False
    return user.partner_memberships.exists()


def own_partners(user):
    """The partners this user is a member of; none for anyone who is not a partner user."""
    if not is_partner_user(user):
        return Partner.objects.none()
    # A network's outgoing postback is configured on the network's page, never by a partner user.
    return Partner.objects.filter(portal_memberships__user=user)


def partner_user_required(view):
    """Anonymous: to the portal's login page. Logged in but not a partner user (staff included): 403."""

    @login_required(login_url=LOGIN_URL)
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_partner_user(request.user):
            raise PermissionDenied("not a partner account")
        return view(request, *args, **kwargs)

    return wrapper


def partner_page(view):
    """A view of one partner, called as view(request, partner, ...): another partner's id is a 404, never a 403,
    so that a partner user cannot tell which ids exist."""

    @partner_user_required
    @wraps(view)
    def wrapper(request, partner_id, *args, **kwargs):
        partner = get_object_or_404(own_partners(request.user), pk=partner_id)
        return view(request, partner, *args, **kwargs)

    return wrapper
