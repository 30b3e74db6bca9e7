"""Inviting a partner user: the account, the membership and a one-time set-password link sent by email.

The link is Django's password-reset token, so it works once: setting the password changes the hash it is made
from. (PasswordResetForm cannot be used: it skips users without a usable password, which invitees are.)
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from .models import PartnerMembership


class InvitationError(ValueError):
    pass


@dataclass
class Invitation:
    user: object
    partner: object
    created_user: bool
    created_membership: bool


def set_password_link(user):
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    path = reverse("portal:set_password", args=[uid, default_token_generator.make_token(user)])
    return settings.PUBLIC_BASE_URL + path


def invite(partner, email):
    """Make `email` a user of `partner` (creating the account, with no usable password) and email the link."""
    email = get_user_model().objects.normalize_email(email.strip()).lower()
    with transaction.atomic():
        users = get_user_model().objects.filter(Q(email__iexact=email) | Q(username__iexact=email))
        user = users.order_by("id").first()
        created_user = user is None
        if created_user:
            user = get_user_model().objects.create_user(username=email, email=email)
        elif user.is_staff or user.is_superuser:
            raise InvitationError(f"{email} is a staff account: a partner user needs an address of their own")
        _membership, created_membership = PartnerMembership.objects.get_or_create(user=user, partner=partner)
    login = settings.PUBLIC_BASE_URL + reverse("portal:login")
    context = {"partner": partner, "link": set_password_link(user), "login": login}
    send_mail(
        f"Your access to the {partner} postback portal",
        render_to_string("portal/invitation_email.txt", context),
        None,
        [email],
    )
    return Invitation(user, partner, created_user, created_membership)
