"""The portal's API tokens page: make a partner token (its key shown once), see when each was used, revoke it."""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST

from .access import own_partners, partner_page
from .models import PartnerToken


class TokenForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="What it is for, e.g. our reporting script.")


@partner_page
def api_tokens(request, partner):
    form = TokenForm(request.POST or None)
    key = None
    if request.method == "POST" and form.is_valid():
        _token, key = PartnerToken.issue(partner, form.cleaned_data["name"], request.user)
        form = TokenForm()
    context = {
        "own_partners": own_partners(request.user),
        "partner": partner,
        "form": form,
        "key": key,
        "tokens": partner.api_tokens.order_by("-id"),
    }
    response = render(request, "portal/api_tokens.html", context)
    add_never_cache_headers(response)
    response["Cache-Control"] += ", no-store"
    return response


@require_POST
@partner_page
def revoke_token(request, partner, token_id):
    token = get_object_or_404(partner.api_tokens, pk=token_id)
    if PartnerToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
        messages.success(request, f"Revoked {token.name} ({token.hint}…): it opens nothing from now on.")
    return redirect("portal:api_tokens", partner_id=partner.pk)
