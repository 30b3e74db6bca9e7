"""manage.py import_rates FILE.csv: load exchange rates (currency,date,rate) into the rate table."""

import csv
import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from postbacks_project.cli import emit
from receiver.models import ExchangeRate

COLUMNS = ("currency", "date", "rate")


def parse_row(number, row):
    """(currency, date, rate) from one CSV row; CommandError naming the line and the problem."""
    try:
        currency = row["currency"].strip().upper()
        day = datetime.date.fromisoformat(row["date"].strip())
        rate = Decimal(row["rate"].strip())
    except (KeyError, AttributeError, ValueError, InvalidOperation):
        raise CommandError(f"line {number}: expected currency,date (YYYY-MM-DD),rate; got {dict(row)}") from None
    if not (len(currency) == 3 and currency.isalpha()):
        raise CommandError(f"line {number}: {currency!r} is not a three-letter currency code")
    if not rate.is_finite() or rate <= 0:
        raise CommandError(f"line {number}: the rate must be a positive number, not {row['rate']!r}")
    return currency, day, rate


class Command(BaseCommand):
    help = (
        "Import exchange rates from a CSV with the header currency,date,rate "
        "(rate = house-currency units per unit of the currency). Existing (currency, date) rows are updated."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        try:
            with open(opts["file"], newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                if tuple(reader.fieldnames or ()) != COLUMNS:
                    raise CommandError(f"the first line must be {','.join(COLUMNS)}, not {reader.fieldnames}")
                rows = [parse_row(number, row) for number, row in enumerate(reader, start=2)]
        except OSError as exc:
            raise CommandError(f"cannot read {opts['file']}: {exc.strerror}") from None
        created = updated = 0
        with transaction.atomic():
            for currency, day, rate in rows:
                _, was_created = ExchangeRate.objects.update_or_create(
                    currency=currency, date=day, defaults={"rate": rate}
                )
                created += was_created
                updated += not was_created
        data = {"created": created, "updated": updated, "house_currency": settings.HOUSE_CURRENCY}
        emit(self, data, opts["json"])
