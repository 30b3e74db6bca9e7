"""The admin dashboard's figures for a period and optional network/offer/partner, each aggregated in the database."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum, TextField, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from receiver.breakdown import (
    APPROVED_IN_HOUSE,
    CONVERTED_CLICK,
    CONVERTED_NETWORK_CLICK,
    ZERO,
    Breakdown,
    click_counts,
    rate,
)
from receiver.breakdown import compute as compute_breakdown
from receiver.lifecycle import Status
from receiver.models import Click, Conversion, NetworkClick, Outcome, PointsEntry, ReceivedPostback

from .models import Delivery, Destination, Effect, State
from .money import minor_unit, round_payout

FAILING_LIMIT = 50


@dataclass
class Day:
    day: date
    conversions: int
    gross: Decimal


@dataclass
class Stats:
    start: date
    end: date
    currency: str
    clicks: int
    network_clicks: int  # of `clicks`, the networks' own click ids that claims reported (none with a partner)
    converted_clicks: int  # of `clicks`, those a real conversion came from (whenever it came)
    conversions: dict  # status -> count, plus "total"
    conversion_rate: Decimal | None  # converted_clicks in percent of clicks; None when there were no clicks
    gross: Decimal
    gross_missing_rate: int  # approved conversions left out of `gross`: no exchange rate yet
    partner_payouts: Decimal  # what partners hold from the conversions in `gross`: credits minus take-backs
    payouts_missing_rate: int  # succeeded deliveries left out of `partner_payouts`: no house amount
    margin: Decimal
    points_issued: int
    points_net: int
    postbacks: dict  # outcome -> count, plus "total"
    rejected_by_reason: list = field(default_factory=list)  # [(reason, count)], most frequent first
    deliveries: dict = field(default_factory=dict)  # state -> count, plus "total"
    failing_partners: list = field(default_factory=list)
    daily: list = field(default_factory=list)  # [Day] for every day of the period
    breakdown: Breakdown | None = None  # per network, offer and conversion type (no partner filter)

    @property
    def our_clicks(self):
        return self.clicks - self.network_clicks

    @property
    def places(self):
        """Decimal places the house currency's money is shown with."""
        return minor_unit(self.currency)

    @property
    def shown(self):
        """Gross, payouts and margin as displayed: each exact sum rounded once, the margin what is left of them."""
        gross = round_payout(self.gross, self.currency)
        payouts = round_payout(self.partner_payouts, self.currency)
        # Rounding the exact margin instead could differ by a cent from gross - payouts as displayed.
        return Shown(gross=gross, partner_payouts=payouts, margin=gross - payouts)


@dataclass(frozen=True)
class Shown:
    gross: Decimal
    partner_payouts: Decimal
    margin: Decimal


def period_bounds(start, end):
    """Aware datetimes [start 00:00, the day after end 00:00) in the current time zone: both dates included."""
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start, time.min), tz),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), tz),
    )


def _counts(column, values):
    return {"total": Count("id"), **{value: Count("id", filter=Q(**{column: value})) for value in values}}


def _conversions(network, offer, partner):
    """Real (never test) conversions; with a partner, only those that were delivered to it."""
    rows = Conversion.objects.filter(is_test=False)
    if network:
        rows = rows.filter(network=network)
    if offer:
        rows = rows.filter(offer=offer)
    if partner:
        sent = Delivery.objects.filter(event__conversion=OuterRef("pk"), destination=partner)
        sent = sent.exclude(state=State.SKIPPED)
        rows = rows.filter(Exists(sent))
    return rows


def compute(start, end, network=None, offer=None, partner=None):
    """Every figure of the dashboard; a fixed number of queries whatever the volume."""
    since, until = period_bounds(start, end)
    conversions = _conversions(network, offer, partner).filter(created_at__gte=since, created_at__lt=until)

    clicks = Click.objects.filter(created_at__gte=since, created_at__lt=until)
    if network:
        clicks = clicks.filter(offer__network=network)
    if offer:
        clicks = clicks.filter(offer=offer)
    if partner:
        # Clicks are attributed to a partner by the ?partner=<slug> they arrived with.
        clicks = clicks.filter(partner_slug=partner.slug or "\0")
    counted = click_counts(clicks, CONVERTED_CLICK)
    click_count, converted_clicks = counted["n"], counted["converted"]
    network_click_count = 0
    if not partner:
        # The networks' own click ids that claims reported; they never come through a partner.
        network_clicks = NetworkClick.objects.filter(created_at__gte=since, created_at__lt=until)
        if network:
            network_clicks = network_clicks.filter(network=network)
        if offer:
            network_clicks = network_clicks.filter(offer=offer)
        counted = click_counts(network_clicks, CONVERTED_NETWORK_CLICK)
        network_click_count = counted["n"]
        click_count += counted["n"]
        converted_clicks += counted["converted"]

    conv = conversions.aggregate(
        **_counts("status", Status.values),
        gross=Sum("house_payout", filter=APPROVED_IN_HOUSE),
        missing=Count("id", filter=Q(status=Status.APPROVED) & ~APPROVED_IN_HOUSE),
    )
    gross = conv.pop("gross") or ZERO
    missing = conv.pop("missing")

    # What partners hold from the conversions counted in `gross`: the credits minus the take-backs their succeeded
    # deliveries sent, so an approval taken back and given again, or a payout change, counts each partner's share
    # once. A claim's report to its network is not a payout: the network pays us.
    payouts = Delivery.objects.filter(
        state=State.SUCCEEDED,
        effect__in=(Effect.CREDIT, Effect.DEBIT),
        event__conversion__in=conversions.filter(APPROVED_IN_HOUSE).values("pk"),
        destination__partner__isnull=False,
    )
    if partner:
        payouts = payouts.filter(destination=partner)
    paid = payouts.aggregate(
        credits=Sum("house_amount", filter=Q(effect=Effect.CREDIT)),
        debits=Sum("house_amount", filter=Q(effect=Effect.DEBIT)),
        missing=Count("id", filter=Q(house_amount__isnull=True)),
    )
    partner_payouts = (paid["credits"] or ZERO) - (paid["debits"] or ZERO)

    points = PointsEntry.objects.filter(created_at__gte=since, created_at__lt=until, conversion__is_test=False)
    if network or offer or partner:
        # An entry counts in its own period (a reversal today of last month's conversion lowers today's net).
        points = points.filter(conversion__in=_conversions(network, offer, partner).values("pk"))
    pts = points.aggregate(issued=Sum("delta", filter=Q(delta__gt=0)), net=Sum("delta"))

    postbacks = ReceivedPostback.objects.filter(received_at__gte=since, received_at__lt=until).exclude(
        conversion__is_test=True
    )
    if network or offer:
        # A rejected postback has no offer: an offer narrows the postbacks to its network.
        postbacks = postbacks.filter(network=network or offer.network)
    received = postbacks.aggregate(**_counts("outcome", Outcome.values))
    reasons = list(
        postbacks.filter(outcome=Outcome.REJECTED)
        .values("reason")
        .annotate(n=Count("id"))
        .order_by("-n", "reason")
        .values_list("reason", "n")
    )

    deliveries = Delivery.objects.filter(created_at__gte=since, created_at__lt=until, event__conversion__is_test=False)
    if network:
        deliveries = deliveries.filter(event__conversion__network=network)
    if offer:
        deliveries = deliveries.filter(event__conversion__offer=offer)
    if partner:
        deliveries = deliveries.filter(destination=partner)

    return Stats(
        start=start,
        end=end,
        currency=settings.HOUSE_CURRENCY,
        clicks=click_count,
        network_clicks=network_click_count,
        converted_clicks=converted_clicks,
        conversions=conv,
        conversion_rate=rate(converted_clicks, click_count),
        gross=gross,
        gross_missing_rate=missing,
        partner_payouts=partner_payouts,
        payouts_missing_rate=paid["missing"],
        margin=gross - partner_payouts,
        points_issued=pts["issued"] or 0,
        points_net=pts["net"] or 0,
        postbacks=received,
        rejected_by_reason=reasons,
        deliveries=deliveries.aggregate(**_counts("state", State.values)),
        failing_partners=list(failing_destinations(partner)),
        daily=daily(conversions, start, end),
        breakdown=compute_breakdown(since, until, network, offer),
    )


def failing_destinations(partner=None, limit=FAILING_LIMIT):
    """Destinations (partners, networks' postbacks) failing now (still tried) or disabled by us, with the newest
    error; with `partner`, only that one."""
    newest_error = Delivery.objects.filter(destination=OuterRef("pk")).exclude(last_error="").order_by("-id")
    rows = Destination.objects.filter(Q(failing_since__isnull=False) | Q(disabled_at__isnull=False))
    if partner:
        rows = rows.filter(pk=partner.pk)
    return rows.annotate(
        last_error=Coalesce(Subquery(newest_error.values("last_error")[:1]), Value(""), output_field=TextField()),
        # A partner's slug, or the network whose postback it is: where the destination is edited.
        slug=F("partner__slug"),
        network_id=F("networkpostback__network_id"),
    ).order_by("name")[:limit]


def daily(conversions, start, end):
    """Conversions and gross payout per day, every day of the period present (zero when nothing happened)."""
    rows = (
        conversions.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"), gross=Sum("house_payout", filter=APPROVED_IN_HOUSE))
        .values_list("day", "n", "gross")
    )
    found = {day: (n, gross or ZERO) for day, n, gross in rows}
    days = (start + timedelta(days=i) for i in range((end - start).days + 1))
    return [Day(day, *found.get(day, (0, ZERO))) for day in days]
