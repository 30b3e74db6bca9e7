"""Helpers shared by the partners' management commands: finding partners, reading decimals and times."""

from datetime import datetime, time

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from partners.models import Partner
from receiver.params import as_pk


def partner_by_ref(ref):
    """A partner by its numeric id, its slug or its exact name."""
    partner = Partner.objects.filter(pk=as_pk(ref)).first() if as_pk(ref) is not None else None
    partner = partner or Partner.objects.filter(slug=ref).first() or Partner.objects.filter(name=ref).first()
    if partner is None:
        raise CommandError(f"no partner with id, slug or name {ref!r}")
    return partner


def parse_since(value, option="--since"):
    """An aware datetime from ISO 8601 (a date alone means its midnight); naive times are in TIME_ZONE."""
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            moment = datetime.combine(day, time.min) if day else None
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(f"{option} {value!r} is not an ISO date or time such as 2025-01-31 or 2025-01-31T14:00")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment
