"""manage.py reconvert: convert payouts again once missing exchange rates are in, and settle their points.

A new rate is the conversion's own event (repriced), recorded with its points entry and never forwarded:
deliveries already made keep their amounts, and the ones that waited for the rate get it.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from postbacks_project.cli import emit
from receiver import currency, ledger
from receiver.models import Conversion, ConversionEvent, EventKind, RateState
from receiver.signals import conversion_priced


class Command(BaseCommand):
    help = "Convert conversions whose rate was missing (or, with --all, every conversion) into the house currency."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="reconvert every conversion, not only missing rates")
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        conversions = Conversion.objects.select_related("offer").order_by("id")
        if not opts["all"]:
            conversions = conversions.filter(rate_state=RateState.MISSING_RATE)
        converted = still_missing = points_entries = 0
        for conversion in conversions.iterator():
            with transaction.atomic():
                before = conversion.exchange_rate
                currency.convert(conversion)
                conversion.save(update_fields=["house_payout", "exchange_rate", "rate_state"])
                if conversion.rate_state == RateState.MISSING_RATE:
                    still_missing += 1
                    continue
                converted += 1
                event = None
                if conversion.exchange_rate != before:
                    event = ConversionEvent.objects.create(
                        conversion=conversion,
                        kind=EventKind.REPRICED,
                        from_status=conversion.status,
                        to_status=conversion.status,
                        payout=conversion.payout,
                    )
                points_entries += ledger.settle(conversion, event, reason="reconverted") is not None
                conversion_priced.send(sender=Conversion, conversion=conversion)
        data = {"converted": converted, "still_missing": still_missing, "points_entries": points_entries}
        emit(self, data, opts["json"])
