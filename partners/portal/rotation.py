"""Rotating a partner's signing secret from the portal: confirm, then the new secret shown once on the answer."""

from django.conf import settings
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from postbacks_project.masking import mask_secret

from .access import own_partners, partner_page
from .models import ChangeRecord


def rotate(partner, user):
    """The new secret, with the rotation recorded (secrets masked: the record is shown to admins)."""
    old = partner.signing_secret
    secret = partner.rotate_signing_secret()
    ChangeRecord.objects.create(
        partner=partner, user=user, field="signing_secret", old_value=mask_secret(old), new_value=mask_secret(secret)
    )
    return secret


@partner_page
def rotate_secret(request, partner):
    """GET: what a rotation does, and a confirmation. POST (confirmed): the new secret, on this answer only."""
    context = {
        "own_partners": own_partners(request.user),
        "partner": partner,
        "window_hours": f"{settings.PARTNER_SECRET_ROTATION_HOURS:g}",
    }
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        context["secret"] = rotate(partner, request.user)
    elif request.method == "POST":
        context["unconfirmed"] = True
    response = render(request, "portal/rotate_secret.html", context)
    # The answer with the secret is neither cached nor stored by the browser: going back does not show it again.
    add_never_cache_headers(response)
    response["Cache-Control"] += ", no-store"
    return response
