"""What every app's admin forms and lists share: decimals as written, and a deactivate action instead of delete."""

from decimal import Decimal
from functools import lru_cache

from django import forms
from django.contrib import admin
from django.db import models

from .cli import money_text


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


class DecimalsAsWrittenInLists:
    """A ModelAdmin mixin: the list's decimal columns read 2.50, not the column's six places (2.500000)."""

    def get_list_display(self, request):
        decimals = {f.name for f in self.model._meta.get_fields() if isinstance(f, models.DecimalField)}
        names = super().get_list_display(request)
        return [_decimal_column(self.model, name) if name in decimals else name for name in names]


@lru_cache(maxsize=64)
def _decimal_column(model, name):
    field = model._meta.get_field(name)

    @admin.display(description=field.verbose_name, ordering=name, empty_value="-")
    def column(obj):
        value = getattr(obj, name)
        return None if value is None else money_text(value)

    column.__name__ = name  # the cells keep their field-<name> class
    return column


@admin.action(description="Deactivate the selected %(verbose_name_plural)s", permissions=["change"])
def deactivate(modeladmin, request, queryset):
    # Instead of delete, which their conversions, deliveries and offers protect: history stays, traffic stops.
    count = queryset.filter(is_active=True).update(is_active=False)
    modeladmin.message_user(request, f"Deactivated {count} {modeladmin.opts.verbose_name_plural}.")
