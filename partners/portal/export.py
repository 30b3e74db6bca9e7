"""A partner's deliveries as CSV, for a period and the list's filters, streamed row by row."""

import csv

from django.http import StreamingHttpResponse
from django.utils import timezone

from partners.macros import event_name

from .access import partner_page
from .forms import DeliveryFilterForm

COLUMNS = [
    "delivery_id",
    "created_at",
    "event",
    "status",
    "click_id",
    "transaction_id",
    "state",
    "attempts",
    "effect",
    "payout",
    "currency",
    "points",
    "last_status_code",
    "last_error",
    "finished_at",
    "webhook_id",
]


class Echo:
    """A file that hands back what it is given: csv.writer writes a row, the response streams it."""

    def write(self, value):
        return value


def _cells(delivery):
    conversion = delivery.event.conversion
    return [
        delivery.pk,
        timezone.localtime(delivery.created_at).isoformat(),
        event_name(delivery.event),
        delivery.event.to_status,
        conversion.click_id,
        conversion.transaction_id,
        delivery.state,
        delivery.attempts,
        delivery.effect,
        "" if delivery.amount is None else f"{delivery.amount.normalize():f}",
        delivery.amount_currency,
        "" if delivery.points is None else delivery.points,
        "" if delivery.last_status_code is None else delivery.last_status_code,
        delivery.last_error,
        timezone.localtime(delivery.finished_at).isoformat() if delivery.finished_at else "",
        delivery.webhook_id,
    ]


def _rows(deliveries):
    writer = csv.writer(Echo())
    yield writer.writerow(COLUMNS)
    # iterator(): a long period is read in chunks, never held whole in memory.
    for delivery in deliveries.iterator(chunk_size=500):
        yield writer.writerow(_cells(delivery))


@partner_page
def export_csv(request, partner):
    """The deliveries the list's filters select (from, to, state, click id, transaction id), oldest first."""
    form = DeliveryFilterForm(request.GET)
    if not form.is_valid():
        return StreamingHttpResponse(iter(["bad filters: " + form.errors.as_text()]), status=400)
    deliveries = form.filter(partner.deliveries.select_related("event__conversion")).order_by("id")
    data = form.cleaned_data
    period = "-".join(str(day) for day in (data["date_from"], data["date_to"]) if day) or "all"
    response = StreamingHttpResponse(_rows(deliveries), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="deliveries-{partner.pk}-{period}.csv"'
    return response
