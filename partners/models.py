"""Downstream data: destinations (partners, and networks' own postback URLs for claims) with their templates and
terms, deliveries and every attempt."""

import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from receiver.models import ConfigQuerySet, ConversionEvent, Network, Offer

from .transport import ERROR_CODES

# Fixed choices: the admin filters by them without a SELECT DISTINCT over the attempts.
ERROR_CHOICES = [(code, f"{code}: {meaning}") for code, meaning in ERROR_CODES.items()]


class Method(models.TextChoices):
    GET = "GET"
    POST = "POST"


class BodyType(models.TextChoices):
    FORM = "form", "form (application/x-www-form-urlencoded)"
    JSON = "json", "JSON (application/json)"


class Scope(models.TextChoices):
    ALL = "all", "all conversions"
    OWN_CLICKS = "own_clicks", "only conversions of clicks that came through this partner"


class ShareType(models.TextChoices):
    PERCENT = "percent", "percentage of the gross payout"
    FIXED = "fixed", "fixed amount per conversion"


class PayoutBasis(models.TextChoices):
    ORIGINAL = "original", "the network's payout, in its currency"
    HOUSE = "house", "the payout converted into the house currency"


class PointsMode(models.TextChoices):
    RATE = "rate", "points per currency unit of the partner's payout"
    FIXED = "fixed", "fixed points per conversion"


class Destination(models.Model):
    """Where deliveries go and how they are sent: a partner, or a network's own postback URL reporting its offer
    claims. The drainer, the breaker, the limits and the signing know only this; routing and pricing know the kinds.
    """

    name = models.CharField(max_length=120, unique=True)
    is_active = models.BooleanField(default=True)
    postback_url = models.CharField(
        max_length=2000,
        help_text="URL template with {macro} placeholders, e.g. https://partner.example/pb?click={click_id}&amount={payout}.",
    )
    method = models.CharField(max_length=4, choices=Method.choices, default=Method.GET)
    body_template = models.TextField(
        blank=True, help_text="POST only. Form: a=1&click={click_id}. JSON: plain JSON with {macro} inside strings."
    )
    body_type = models.CharField(max_length=4, choices=BodyType.choices, default=BodyType.FORM)
    headers = models.JSONField(default=dict, blank=True, help_text='Extra request headers, e.g. {"X-Token": "..."}.')
    max_concurrency = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Requests in flight to this destination at most, across all workers (empty: "
        "DELIVERY_PARTNER_CONCURRENCY). A slow one holds no more than this; the others keep sending.",
    )
    max_per_second = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Requests per second to this destination at most, per worker process (empty: DELIVERY_PARTNER_RATE, "
        "0 there for no limit). A replay is throttled to it.",
    )
    signing_secret = models.CharField(
        max_length=200,
        blank=True,
        help_text="Standard Webhooks secret (whsec_ + base64). Set: every request carries webhook-id, "
        "webhook-timestamp and webhook-signature headers.",
    )
    previous_signing_secret = models.CharField(
        max_length=200,
        blank=True,
        editable=False,
        help_text="The secret a rotation replaced: requests also carry its signature until previous_secret_until.",
    )
    previous_secret_until = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the secret a rotation replaced stops being signed with."
    )
    disabled_at = models.DateTimeField(null=True, blank=True, help_text="Set when we stopped sending on our own.")
    disabled_reason = models.TextField(blank=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="First failed attempt since the last success; cleared by a success."
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ConfigQuerySet.as_manager()
    # Writes of runtime health (failing_since): never a configuration change, so no process reloads its copy.
    health_writes = models.Manager()  # noqa: DJ012 (a manager, which ruff takes for a field)

    class Meta:
        ordering = ["name"]
        default_manager_name = "objects"

    def __str__(self):
        return self.name

    @property
    def sendable(self):
        return self.is_active and self.disabled_at is None

    @property
    def sending_state(self):
        """sending, inactive (switched off by an admin) or auto-disabled (switched off by us)."""
        if self.disabled_at is not None:
            return "auto-disabled"
        return "sending" if self.is_active else "inactive"

    def secrets_at(self, moment):
        """The secrets a request made at `moment` is signed with: the current one, then the previous one while its
        rotation window lasts (Standard Webhooks lets a request carry several signatures)."""
        if not self.signing_secret:
            return []
        previous = self.previous_signing_secret
        if previous and self.previous_secret_until is not None and moment < self.previous_secret_until:
            return [self.signing_secret, previous]
        return [self.signing_secret]

    def rotate_signing_secret(self, now=None):
        """Replace the signing secret with a new random one and return it; the one it replaces keeps being signed
        with for PARTNER_SECRET_ROTATION_HOURS, so the receiver can switch over without missing a request."""
        from .signing import generate_secret

        now = now or timezone.now()
        secret = generate_secret()
        with transaction.atomic():
            current = Destination.objects.select_for_update().get(pk=self.pk)
            self.previous_signing_secret = current.signing_secret
            self.previous_secret_until = now + timedelta(hours=settings.PARTNER_SECRET_ROTATION_HOURS)
            if not current.signing_secret:
                self.previous_secret_until = None
            self.signing_secret = secret
            self.save(update_fields=["signing_secret", "previous_signing_secret", "previous_secret_until"])
        return secret


class Partner(Destination):
    """A downstream partner: which conversions it gets (scope and filters), what it is paid, and its portal."""

    kind = "partner"

    # The destination's id is the partner's: every row that points at a partner points at its destination too.
    destination_ptr = models.OneToOneField(
        Destination, on_delete=models.CASCADE, parent_link=True, primary_key=True, db_column="id"
    )
    slug = models.SlugField(
        max_length=60,
        unique=True,
        null=True,
        blank=True,
        help_text="Identifies clicks that came through this partner: /click/<offer>/?partner=<slug>.",
    )
    receives_tests = models.BooleanField(
        default=False,
        help_text="Send this partner the networks' test conversions (status=test, or a network's test flag such as "
        "debug=true), with {event} test. Off: they are skipped, with the reason on the delivery.",
    )
    scope = models.CharField(max_length=12, choices=Scope.choices, default=Scope.ALL)
    networks = models.ManyToManyField(Network, blank=True, help_text="Only these networks (none selected: all).")
    offers = models.ManyToManyField(Offer, blank=True, help_text="Only these offers (none selected: all).")
    statuses = models.JSONField(
        default=list, blank=True, help_text='Only these statuses, e.g. ["approved", "reversed"] (empty: all).'
    )
    min_payout = models.DecimalField(
        max_digits=18, decimal_places=6, null=True, blank=True, help_text="Only conversions paying at least this."
    )
    share_type = models.CharField(max_length=8, choices=ShareType.choices, default=ShareType.PERCENT)
    share_value = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        default=Decimal("100"),
        validators=[MinValueValidator(0)],
        help_text="Percent (0-100), or a fixed amount per conversion in the share currency, never more than the "
        "conversion pays.",
    )
    share_currency = models.CharField(
        max_length=3, blank=True, help_text="Fixed shares: the currency of the amount (empty: the house currency)."
    )
    payout_basis = models.CharField(
        max_length=8,
        choices=PayoutBasis.choices,
        default=PayoutBasis.ORIGINAL,
        help_text="What a percentage share, {payout} and {gross_payout} are computed from. House: a delivery "
        "whose conversion lacks its exchange rate waits for it (waiting_rate) and goes out once reconvert has it.",
    )
    payout_places = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(6)],
        help_text="Decimal places of {payout} (rounded half up); empty: the currency's minor unit (2 for USD, 0 "
        "for JPY).",
    )
    send_adjustments = models.BooleanField(
        default=False,
        help_text="Also send payout changes of a conversion (same status, new payout): {payout} is the difference, "
        "{previous_payout} what was held, {effect} credit or debit.",
    )
    points_mode = models.CharField(max_length=8, choices=PointsMode.choices, default=PointsMode.RATE)
    points_value = models.DecimalField(
        max_digits=18, decimal_places=6, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    portal_changes_need_approval = models.BooleanField(
        default=False,
        help_text="A change of the postback settings made in the partner portal waits for an admin's approval "
        "(on the partner's portal page) instead of applying at once.",
    )

    class Meta:
        ordering = ["name"]
        default_manager_name = "objects"

    def clean(self):
        from .validation import validate_partner

        validate_partner(self)


class NetworkPostback(Destination):
    """A network's own postback URL: it reports that network's offer claims and nothing else. It is never routed
    to, and its terms are fixed: the whole payout on the network's own basis, no points, no adjustments."""

    kind = "network postback"

    destination_ptr = models.OneToOneField(Destination, on_delete=models.CASCADE, parent_link=True, primary_key=True)
    network = models.OneToOneField(
        Network,
        on_delete=models.PROTECT,
        related_name="outgoing_postback",
        help_text="The network whose offer claims this reports.",
    )

    # The pricing terms amounts.fix and the macros read of a partner, fixed for a network.
    share_type, share_value, share_currency = ShareType.PERCENT, Decimal(100), ""
    payout_basis, payout_places = PayoutBasis.ORIGINAL, None
    points_mode, points_value = PointsMode.FIXED, Decimal(0)

    class Meta:
        ordering = ["name"]
        default_manager_name = "objects"
        verbose_name = "network postback"

    def save(self, *args, **kwargs):
        # Edited on the network's page, where it has no name field.
        if not self.name:
            self.name = f"{self.network.name} (network postback)"
        super().save(*args, **kwargs)

    def clean(self):
        from .validation import validate_destination

        validate_destination(self)


class Breaker(models.TextChoices):
    CLOSED = "closed", "closed (sending)"
    OPEN = "open", "open (paused after consecutive failures)"
    HALF_OPEN = "half_open", "half-open (one probe in flight)"


class DestinationHealth(models.Model):
    """A destination's circuit breaker: runtime state, kept apart from its configuration, so that a partner going up
    and down never makes every process reload the partners (receiver.config)."""

    destination = models.OneToOneField(Destination, primary_key=True, on_delete=models.CASCADE, related_name="health")
    breaker = models.CharField(max_length=10, choices=Breaker.choices, default=Breaker.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True, help_text="When the breaker last opened.")
    probe_at = models.DateTimeField(null=True, blank=True, help_text="Open: when one probe request may go.")
    probe_interval = models.PositiveIntegerField(default=0, help_text="Seconds to the next probe; doubles per failure.")
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "destination health"

    def __str__(self):
        return f"{self.destination}: {self.breaker}"


class OfferShare(models.Model):
    """A partner's revenue share on one offer, instead of its default share."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="offer_shares")
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="partner_shares")
    share_type = models.CharField(max_length=8, choices=ShareType.choices, default=ShareType.PERCENT)
    share_value = models.DecimalField(max_digits=18, decimal_places=6, validators=[MinValueValidator(0)])
    share_currency = models.CharField(
        max_length=3, blank=True, help_text="Fixed shares: the currency of the amount (empty: the house currency)."
    )

    objects = ConfigQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "offer"], name="one_share_per_partner_offer")]

    def __str__(self):
        return f"{self.partner} on {self.offer.name}: {self.share_value} {self.share_type}"

    def clean(self):
        from .validation import check_share_terms

        errors = check_share_terms(self)
        if errors:
            raise ValidationError(errors)


class State(models.TextChoices):
    WAITING_RATE = "waiting_rate", "waiting for an exchange rate"
    PENDING = "pending"
    SENDING = "sending"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    PARKED = "parked", "parked (its partner is auto-disabled: replayed or discarded when re-enabled)"


FINAL_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELLED, State.SKIPPED)
DUE_STATES = (State.PENDING, State.RETRYING)


def lock_span():
    """How long an attempt in flight holds its delivery: a worker that died holds it no longer than this."""
    return timedelta(seconds=2 * settings.OUTBOUND_TIMEOUT + settings.DELIVERY_LOCK_MARGIN)


def due(now, waited=None):
    """Deliveries to send now: due by `waited` (default: now), or left in flight past their lock."""
    first, *others = due_parts(now, waited)
    for part in others:
        first |= part
    return first


def due_parts(now, waited=None):
    """due() as one condition per state, each a range of the (state, next_attempt_at) index: the oldest due
    deliveries of a large backlog are read from the index part by part, where the OR of them sorts them all."""
    lookups = {"<=": "lte", "<": "lt"}
    return [Q(state=state, **{f"{field}__{lookups[op]}": bound}) for state, field, op, bound in due_bounds(now, waited)]


def due_bounds(now, waited=None):
    """due_parts() as (state, field, operator, bound), for the drainer's SQL of its own."""
    waited = now if waited is None else waited
    parts = [(state, "next_attempt_at", "<=", waited) for state in DUE_STATES]
    return [*parts, (State.SENDING, "locked_until", "<", now)]


class Effect(models.TextChoices):
    """What a delivery does to the partner's books: what the partner is owed for the conversion goes up or down."""

    CREDIT = "credit", "credit (an approval, or a higher payout)"
    DEBIT = "debit", "debit (a take-back: reversal, rejection after approval, or a lower payout)"
    NONE = "none", "none (pending, or nothing to take back)"


def new_webhook_id():
    return f"msg_{uuid.uuid4().hex}"


class Delivery(models.Model):
    """One conversion event to one destination (a partner, or a claim's network); its attempts are the HTTP tries."""

    # No index of its own: one_delivery_per_event_destination leads with it, and each delivery's lock and record
    # would write a second one for nothing.
    event = models.ForeignKey(ConversionEvent, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    # PROTECT: a destination with history is deactivated, not deleted, so that every attempt stays on record.
    destination = models.ForeignKey(Destination, on_delete=models.PROTECT, related_name="deliveries")
    # No index of its own: delivery_due leads with it, and a second one on state alone is what the planner would
    # read a backlog through, unordered, when the statistics have not seen that backlog yet.
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    reason = models.TextField(blank=True, help_text="Why it was skipped, cancelled or failed.")
    webhook_id = models.CharField(
        max_length=40, unique=True, default=new_webhook_id, help_text="Stable across retries: partners dedupe on it."
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True, help_text="An attempt is in flight until then.")
    lease = models.CharField(
        max_length=32, blank=True, help_text="The worker's lock on an attempt in flight: only its holder records it."
    )
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_code = models.CharField(max_length=12, blank=True, choices=ERROR_CHOICES)
    # The money is fixed when the delivery is made, from the terms in force then; every try sends exactly this.
    effect = models.CharField(max_length=6, choices=Effect.choices, default=Effect.NONE)
    amount = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="{payout}: the partner's share this event credits or takes back (always positive), rounded as "
        "sent; empty while waiting for a rate.",
    )
    amount_currency = models.CharField(max_length=3, blank=True)
    house_amount = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="The amount in the house currency; empty while the conversion's exchange rate is missing.",
    )
    gross = models.DecimalField(
        max_digits=18, decimal_places=6, null=True, blank=True, help_text="{gross_payout}, on the partner's basis."
    )
    previous_amount = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="{previous_payout}: what the partner held from the conversion before this event.",
    )
    points = models.IntegerField(null=True, blank=True, help_text="{points}: credited, or taken back.")
    share_type = models.CharField(max_length=8, choices=ShareType.choices, blank=True)
    share_value = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="The share terms in force when the event happened (the partner's, or its offer share): a delivery "
        "that waits for a rate is priced on them, not on later ones.",
    )
    share_currency = models.CharField(max_length=3, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "destination"], name="one_delivery_per_event_destination")
        ]
        indexes = [
            # id too: the drainer reads each state's oldest due deliveries by (next_attempt_at, id), in index order
            # up to a LIMIT, also when a replay gave thousands of them the same next_attempt_at.
            models.Index(fields=["state", "next_attempt_at", "id"], name="delivery_due"),
            # The drainer reads back what it locked by its lease; only deliveries in flight have one.
            models.Index(fields=["lease"], name="delivery_lease", condition=~models.Q(lease="")),
            models.Index(fields=["last_error_code"], name="delivery_last_error_code"),  # the admin's filter
        ]
        # Resending is more than a change: it calls the partner. The dashboard has no model of its own; it sits
        # with the deliveries it reports on.
        permissions = [
            ("resend_delivery", "Can resend deliveries"),
            ("view_dashboard", "Can view the stats dashboard and /api/status/"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.destination} {self.state}"


class AttemptRecord(models.Model):
    """What one HTTP try sent and got back; shared by deliveries and test postbacks (one sender)."""

    url = models.TextField(help_text="The rendered URL, secrets masked.")
    method = models.CharField(max_length=4)
    request_headers = models.JSONField(default=dict, blank=True)
    request_body = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, help_text="One line for people, e.g. connection refused by 127.0.0.1:9999.")
    error_code = models.CharField(
        max_length=12, blank=True, db_index=True, choices=ERROR_CHOICES, help_text="What kind of failure it was."
    )
    error_detail = models.TextField(blank=True, help_text="The technical text behind the error, secrets masked.")

    class Meta:
        abstract = True


class DeliveryAttempt(AttemptRecord):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_set")
    number = models.PositiveIntegerField()
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["response_status"], name="attempt_response_status")]  # the admin's filter

    def __str__(self):
        return f"#{self.number} {self.response_status or self.error[:40]}"
