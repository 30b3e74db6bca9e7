"""The portal's forms: login for partner users only, the postback settings a partner may change, delivery filters."""

import copy

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from partners.models import BodyType, Method, State
from partners.validation import validate_partner

from .access import is_partner_user

# What a partner user may change; everything else on the partner is the hub's and shown read-only.
EDITABLE = ["postback_url", "method", "body_template", "body_type"]


class PortalLoginForm(AuthenticationForm):
    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        # Staff and users without a partner get the same answer as a wrong password: the portal confirms no account.
        if not is_partner_user(user):
            raise self.get_invalid_login_error()


class PostbackSettingsForm(forms.Form):
    postback_url = forms.CharField(
        label="URL template", max_length=2000, widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})
    )
    method = forms.ChoiceField(choices=Method.choices)
    body_template = forms.CharField(
        label="body template (POST only)",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
    )
    body_type = forms.ChoiceField(label="content type", choices=BodyType.choices)

    def __init__(self, partner, *args, **kwargs):
        super().__init__(*args, initial={name: getattr(partner, name) for name in EDITABLE}, **kwargs)
        self.partner = partner
        self.candidate = None

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        # The admin's save-time checks, on the partner as it would be: a copy, so a refused change touches nothing.
        candidate = copy.copy(self.partner)
        for name in EDITABLE:
            setattr(candidate, name, cleaned[name])
        try:
            validate_partner(candidate)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                # A problem in a field the partner cannot change is the hub's to fix; it still blocks the save.
                target = name if name in self.fields else None
                prefix = "" if target else "Please ask us to fix the partner's settings: "
                self.add_error(target, [prefix + message for message in messages])
            return cleaned
        self.candidate = candidate
        return cleaned


class DeliveryFilterForm(forms.Form):
    state = forms.ChoiceField(choices=[("", "any state"), *State.choices], required=False)
    date_from = forms.DateField(label="from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="to", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    click_id = forms.CharField(label="click id", required=False, max_length=255)
    transaction_id = forms.CharField(label="transaction id", required=False, max_length=255)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def filter(self, deliveries):
        data = self.cleaned_data
        if data["state"]:
            deliveries = deliveries.filter(state=data["state"])
        if data["date_from"]:
            deliveries = deliveries.filter(created_at__date__gte=data["date_from"])
        if data["date_to"]:
            deliveries = deliveries.filter(created_at__date__lte=data["date_to"])
        if data["click_id"]:
            deliveries = deliveries.filter(event__conversion__click_id=data["click_id"].strip())
        if data["transaction_id"]:
            deliveries = deliveries.filter(event__conversion__transaction_id=data["transaction_id"].strip())
        return deliveries
