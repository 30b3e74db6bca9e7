"""The admin stats dashboard: a GET form for the period and filters, figures from partners.figures, a daily chart."""

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.shortcuts import render
from django.utils import timezone

from postbacks_project import tables as table_sizes
from receiver.lifecycle import Status
from receiver.models import Network, Offer

from . import dashboard_links
from .allocation import over_allocated
from .charts import daily_chart
from .figures import compute
from .models import Partner, State

DEFAULT_DAYS = 30
MAX_DAYS = 366


class PeriodForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    network = forms.ModelChoiceField(Network.objects.order_by("name"), required=False, empty_label="all networks")
    offer = forms.ModelChoiceField(
        Offer.objects.select_related("network").order_by("name"), required=False, empty_label="all offers"
    )
    partner = forms.ModelChoiceField(Partner.objects.order_by("name"), required=False, empty_label="all partners")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError("The period starts after it ends.")
        if start and end and (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(f"Choose a period of at most {MAX_DAYS} days.")
        return data


def default_period():
    today = timezone.localdate()
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def page(request):
    """Staff with partners.view_dashboard (see the URLconf). Without parameters: the last 30 days, everything."""
    start, end = default_period()
    form = PeriodForm({"start": start, "end": end, **request.GET.dict()})
    figures = chart = links = None
    tables, rows, presets = [], {}, []
    if form.is_valid():
        data = form.cleaned_data
        scope = (data["network"], data["offer"], data["partner"])
        figures = compute(data["start"], data["end"], *scope)
        links = dashboard_links.Links(data["start"], data["end"], *scope)
        rows = dashboard_links.rows(figures, links)
        filters = {name: data[name].pk for name in ("network", "offer", "partner") if data[name]}
        presets = dashboard_links.presets(timezone.localdate(), (data["start"], data["end"]), filters)
        chart = daily_chart(figures.daily, figures.currency)
        per = figures.breakdown
        tables = [
            ("Per network", per.by_network, "Network"),
            ("Per offer", per.by_offer, "Offer"),
            ("Per conversion type", per.by_conversion_type, "Conversion type"),
        ]
    context = {
        **admin.site.each_context(request),
        "title": "Stats",
        "form": form,
        "stats": figures,
        "chart": chart,
        "breakdown_tables": tables,
        "links": links,
        "rows": rows,
        "presets": presets,
        "statuses": Status.values,
        "states": State.values,
        # Terms, not traffic: every offer whose partners' shares exceed its payout, whatever the filters.
        "over_allocated": over_allocated(),
        # Storage, not traffic: what the database holds now, for choosing the RETAIN_* days.
        "sizes": table_sizes.measure(),
    }
    return render(request, "admin/partners/dashboard.html", context)
