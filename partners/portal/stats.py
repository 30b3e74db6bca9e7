"""A partner's own figures per day: deliveries, conversions delivered, success rate, payouts and points.

Only what the partner was sent: never the hub's gross or margin. Days are the hub's time zone's, every day of the
period present, each aggregated in the database.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from partners.figures import period_bounds
from partners.models import Effect, State
from postbacks_project.cli import money_text

DEFAULT_DAYS = 30
MAX_DAYS = 366
SUCCEEDED = Q(state=State.SUCCEEDED)


@dataclass
class PartnerDay:
    day: date
    deliveries: int = 0  # sent or to be sent: skipped ones are not counted
    succeeded: int = 0
    failed: int = 0
    conversions_delivered: int = 0
    payouts: dict = field(default_factory=dict)  # currency -> Decimal: credits minus take-backs, succeeded only
    points: int = 0  # credited minus taken back, succeeded only

    @property
    def payouts_text(self):
        return ", ".join(f"{money_text(amount)} {currency}" for currency, amount in sorted(self.payouts.items()))

    @property
    def success_rate(self):
        """Succeeded in percent of the deliveries that are final (succeeded or failed); None when none is."""
        final = self.succeeded + self.failed
        return None if not final else (Decimal(100) * self.succeeded / final).quantize(Decimal("0.1"))


class PeriodForm(forms.Form):
    date_from = forms.DateField(label="from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="to", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def period(self):
        """(start, end) dates, both included: the last DEFAULT_DAYS days unless chosen, at most MAX_DAYS."""
        end = self.cleaned_data.get("date_to") or timezone.localdate()
        start = self.cleaned_data.get("date_from") or end - timedelta(days=DEFAULT_DAYS - 1)
        return start, end

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            start, end = self.period()
            if start > end:
                raise forms.ValidationError("the period ends before it starts")
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(f"a period is at most {MAX_DAYS} days")
        return cleaned


def _signed(column, effect):
    return Sum(column, filter=SUCCEEDED & Q(effect=effect))


def daily(partner, start, end):
    """[PartnerDay] for every day from start to end (dates, both included), newest first."""
    lower, upper = period_bounds(start, end)
    deliveries = (
        partner.deliveries.filter(created_at__gte=lower, created_at__lt=upper)
        .exclude(state=State.SKIPPED)
        .annotate(day=TruncDate("created_at"))
    )
    days = {start + timedelta(days=n): PartnerDay(start + timedelta(days=n)) for n in range((end - start).days + 1)}
    counts = deliveries.values("day").annotate(
        n=Count("id"),
        ok=Count("id", filter=SUCCEEDED),
        failed=Count("id", filter=Q(state=State.FAILED)),
        conversions=Count("event__conversion", filter=SUCCEEDED, distinct=True),
        points_in=_signed("points", Effect.CREDIT),
        points_out=_signed("points", Effect.DEBIT),
    )
    for row in counts:
        day = days[row["day"]]
        day.deliveries, day.succeeded, day.failed = row["n"], row["ok"], row["failed"]
        day.conversions_delivered = row["conversions"]
        day.points = (row["points_in"] or 0) - (row["points_out"] or 0)
    money = (
        deliveries.filter(SUCCEEDED, amount__isnull=False)
        .values("day", "amount_currency")
        .annotate(credit=_signed("amount", Effect.CREDIT), debit=_signed("amount", Effect.DEBIT))
    )
    for row in money:
        net = (row["credit"] or Decimal(0)) - (row["debit"] or Decimal(0))
        days[row["day"]].payouts[row["amount_currency"]] = net
    return sorted(days.values(), key=lambda day: day.day, reverse=True)


def totals(days):
    """One PartnerDay-like sum of `days` (its day is None)."""
    total = PartnerDay(day=None)
    for day in days:
        total.deliveries += day.deliveries
        total.succeeded += day.succeeded
        total.failed += day.failed
        total.conversions_delivered += day.conversions_delivered
        total.points += day.points
        for currency, amount in day.payouts.items():
            total.payouts[currency] = total.payouts.get(currency, Decimal(0)) + amount
    return total
