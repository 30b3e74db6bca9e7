"""What every app's admin forms share: decimals shown as written, and a deactivate action instead of delete."""

from decimal import Decimal

from django import forms
from django.contrib import admin


def normalise_decimals(form):
    """Show stored decimals as written (70, 2.5), not at the column's six places (70.000000)."""
    for name, field in form.fields.items():
        value = form.initial.get(name)
        if isinstance(field, forms.DecimalField) and isinstance(value, Decimal):
            form.initial[name] = f"{value.normalize():f}"


class DecimalsAsWritten(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        normalise_decimals(self)


@admin.action(description="Deactivate the selected %(verbose_name_plural)s", permissions=["change"])
def deactivate(modeladmin, request, queryset):
    # Instead of delete, which their conversions, deliveries and offers protect: history stays, traffic stops.
    count = queryset.filter(is_active=True).update(is_active=False)
    modeladmin.message_user(request, f"Deactivated {count} {modeladmin.opts.verbose_name_plural}.")
