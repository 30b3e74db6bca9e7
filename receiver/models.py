"""Upstream data: networks that post to us, offers, our clicks, every raw request, and conversions."""

import ipaddress
import secrets
import uuid
from decimal import Decimal
from functools import cached_property
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from postbacks_project.masking import mask_secret

from . import acknowledgements, reversals, signatures
from .lifecycle import Status
from .params import FIELDS, is_currency_code


def generate_key():
    # Hex, not urlsafe base64: a key starting with "-" would read as an option on the command line.
    return secrets.token_hex(20)


def generate_click_id():
    return uuid.uuid4().hex


def parse_networks(text):
    """Parse an allowlist (one address or CIDR per line or comma); raise ValueError naming the bad entry."""
    networks = []
    for entry in text.replace(",", "\n").split():
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or CIDR range") from None
    return networks


class ConfigQuerySet(models.QuerySet):
    """Writes that bypass save() and its signals still tell every process's copy (receiver.config) to reload."""

    def update(self, **kwargs):
        rows = super().update(**kwargs)
        if rows:
            _config_changed()
        return rows

    def bulk_create(self, *args, **kwargs):
        created = super().bulk_create(*args, **kwargs)
        if created:
            _config_changed()
        return created

    def bulk_update(self, *args, **kwargs):
        rows = super().bulk_update(*args, **kwargs)
        if rows:
            _config_changed()
        return rows


def _config_changed():
    from . import config  # config reads ConfigVersion, defined below

    config.changed()


class Network(models.Model):
    name = models.CharField(max_length=120, unique=True)
    key = models.CharField(
        max_length=64,
        unique=True,
        default=generate_key,
        help_text="Secret key in the network's postback URL. Rotate it from the list's actions.",
    )
    is_active = models.BooleanField(default=True, help_text="Inactive networks get 404, and the request is logged.")
    preset = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="The preset (receiver/presets.json) this network was created from; blank for one set up by hand.",
    )
    allowed_ips = models.TextField(
        blank=True, help_text="Addresses or CIDR ranges allowed to post, one per line. Empty allows any address."
    )
    hmac_secret = models.CharField(
        "secret",
        max_length=200,
        blank=True,
        help_text="The secret the network gave you: the key of its signature recipe. With a secret and no recipe, "
        "every postback must carry X-Signature: hex HMAC-SHA256 of the body (or of the query string when there "
        "is no body).",
    )
    signature = models.JSONField(
        default=dict,
        blank=True,
        help_text='How the network signs its postbacks, e.g. {"scheme": "fields", "algorithm": "md5", "template": '
        '"{trans_id}-{secret}", "in": "query:hash"}; schemes none, token, fields, url, params, body '
        "(docs/network-integration.md). Empty: X-Signature if there is a secret, else none.",
    )
    param_mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text='Our field -> the network\'s parameter name, e.g. {"click_id": "subid", "payout": "sum"}.',
    )
    status_mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text='The network\'s status value -> ours, e.g. {"1": "approved", "2": "pending", "3": "rejected"}.',
    )
    acknowledgements = models.JSONField(
        default=dict,
        blank=True,
        help_text='The exact answer the network checks, per outcome, e.g. {"accepted": {"body": "1"}, "duplicate": '
        '{"body": "DUP"}, "rejected": {"status": 403, "body": "stop"}}; outcomes accepted, status_change, adjustment, '
        "duplicate, rejected, bad_signature; each with status (200), body and content_type (text/plain). Empty: "
        "the JSON answers.",
    )
    payout_scale = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal("0.000001"))],
        help_text="The payout is multiplied by this: 0.01 for a network that sends cents (Pollfish's cpa).",
    )
    default_currency = models.CharField(
        max_length=3, blank=True, help_text="The currency of payouts sent without one (empty: the offer's, else USD)."
    )
    decimal_comma = models.BooleanField(
        default=False, help_text="Read a payout with one comma and no point as a decimal: 12,34 is 12.34."
    )
    reversal = models.JSONField(
        default=dict,
        blank=True,
        help_text="How the network reverses a conversion, beyond a status that maps to reversed and a negative payout, "
        'e.g. {"flag": "is_chargeback", "original": "transaction_id", "strip": "r-"} or {"original": "uuid"}: flag '
        "(a parameter whose 1/true/yes marks a reversal), original (the reversal's parameter naming its original), "
        "strip (a prefix to remove from it), matches (the original's parameter holding that value; default: the "
        "same). With a rule, a reversal whose original is unknown is stored with reason unknown_original.",
    )
    test_flag = models.CharField(
        max_length=60,
        blank=True,
        help_text="The parameter that marks a test postback when it is 1, true or yes (e.g. debug): stored as a test "
        "conversion, never forwarded to real partners, never in stats.",
    )
    currency_points = models.BooleanField(
        default=False,
        help_text="The user's points are the network's virtual-currency amount (currency_amount, mapped e.g. to val "
        "or points), not the payout at our points rate.",
    )
    require_known_click = models.BooleanField(
        default=False,
        help_text="Reject postbacks whose click id is not one of our generated clicks (reason unknown_click).",
    )
    allow_reapproval = models.BooleanField(
        default=False,
        help_text="Let this network approve a conversion it rejected or reversed before. Off: rejected and reversed "
        "are final, and a later approval is stored and answered as a duplicate (reason status_transition_refused), "
        "never credited or forwarded.",
    )
    has_claims = models.BooleanField(
        default=False,
        editable=False,
        help_text="Set by this network's first offer claim: from then on its postbacks are matched to claims.",
    )
    silence_alert_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Alert when the network has sent no accepted postback for this many minutes. Empty: learned from "
        "its own last week (its longest gap, times ALERT_SILENCE_FACTOR, at least ALERT_SILENCE_FLOOR_MINUTES); "
        "0: never.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    key_rotated_at = models.DateTimeField(null=True, blank=True)

    objects = ConfigQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        try:
            parse_networks(self.allowed_ips)
        except ValueError as exc:
            raise ValidationError({"allowed_ips": str(exc)}) from None
        if not isinstance(self.param_mapping, dict) or not all(
            isinstance(v, str) and v for v in self.param_mapping.values()
        ):
            raise ValidationError({"param_mapping": "Must be an object of our field -> their parameter name."})
        unknown = sorted(set(self.param_mapping) - set(FIELDS))
        if unknown:
            raise ValidationError(
                {"param_mapping": f"Unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}."}
            )
        if not isinstance(self.status_mapping, dict):
            raise ValidationError({"status_mapping": "Must be an object of their value -> our status."})
        bad = sorted(v for v in self.status_mapping.values() if v not in Status.values)
        if bad:
            raise ValidationError(
                {"status_mapping": f"Unknown status(es) {', '.join(map(str, bad))}; use {', '.join(Status.values)}."}
            )
        currency = self.default_currency
        if currency and not is_currency_code(currency):
            raise ValidationError({"default_currency": f"{currency!r} is not a three-letter code such as EUR"})
        try:
            acknowledgements.validate(self.acknowledgements or {})
        except acknowledgements.AckError as exc:
            raise ValidationError({"acknowledgements": str(exc)}) from None
        try:
            reversals.validate(self.reversal or {})
        except reversals.RuleError as exc:
            raise ValidationError({"reversal": str(exc)}) from None
        try:
            recipe = signatures.validate(self.signature or {})
        except signatures.RecipeError as exc:
            raise ValidationError({"signature": str(exc)}) from None
        if recipe["scheme"] != "none" and not self.hmac_secret:
            raise ValidationError(
                {"hmac_secret": f"the {recipe['scheme']} signature recipe needs the network's secret"}
            )

    @cached_property
    def recipe(self):
        """The signature recipe in force: the one set, else X-Signature for a network with a secret, else none.

        Read once per loaded network: the receiver's networks come from the per-process copy, reloaded on a change.
        """
        if self.signature:
            return signatures.validate(self.signature)
        return signatures.validate(signatures.BODY_DEFAULT if self.hmac_secret else {})

    @cached_property
    def reversal_rule(self):
        """The reversal rule, validated once per loaded network like the recipe."""
        return reversals.validate(self.reversal or {})

    @cached_property
    def acks(self):
        """The acknowledgements, defaults filled in (validated once, like the recipe)."""
        return acknowledgements.validate(self.acknowledgements or {})

    def allowed_networks(self):
        return parse_networks(self.allowed_ips)

    def allows_ip(self, address):
        networks = self.allowed_networks()
        if not networks:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in net for net in networks)

    def postback_url(self):
        """The absolute URL, key included, to hand to the network."""
        return settings.PUBLIC_BASE_URL + reverse("postback", args=[self.key])

    def rotate_key(self):
        self.key = generate_key()
        self.key_rotated_at = timezone.now()
        self.save(update_fields=["key", "key_rotated_at"])

    @property
    def masked_key(self):
        return mask_secret(self.key)


class Offer(models.Model):
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="offers")
    name = models.CharField(max_length=200)
    url = models.URLField(
        max_length=2000,
        help_text="Destination after a click; {click_id} is replaced by our click id, e.g. "
        "https://network.example/go?aff_sub={click_id}.",
    )
    payout = models.DecimalField(
        max_digits=18, decimal_places=6, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    currency = models.CharField(max_length=3, default="USD")
    points_rate = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Points per house-currency unit for users converting on this offer (empty: POINTS_PER_UNIT).",
    )
    goal = models.CharField(
        max_length=100,
        blank=True,
        help_text="The goal or event a claim of this offer reports to the network ({goal} in its outgoing "
        "postback), e.g. install or purchase; a claim may name another.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.name} ({self.network})"

    def clean(self):
        if "{click_id}" not in (self.url or ""):
            raise ValidationError({"url": "The offer URL must contain {click_id}, where our click id goes."})
        if not (len(self.currency) == 3 and self.currency.isalpha()):
            raise ValidationError({"currency": "Use a three-letter ISO 4217 code such as USD."})
        self.currency = self.currency.upper()

    def click_url(self):
        """The absolute URL users follow to reach this offer through us."""
        return settings.PUBLIC_BASE_URL + reverse("click", args=[self.pk])

    def destination_for(self, click):
        return self.url.replace("{click_id}", quote(click.click_id, safe=""))


class Click(models.Model):
    click_id = models.CharField(max_length=64, unique=True, default=generate_click_id)
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="clicks")
    user_id = models.CharField(max_length=200, blank=True, db_index=True)
    sub1 = models.CharField(max_length=200, blank=True)
    sub2 = models.CharField(max_length=200, blank=True)
    sub3 = models.CharField(max_length=200, blank=True)
    sub4 = models.CharField(max_length=200, blank=True)
    sub5 = models.CharField(max_length=200, blank=True)
    partner_slug = models.CharField(
        max_length=60, blank=True, db_index=True, help_text="The partner this click came through (?partner=slug)."
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return self.click_id


class NetworkClick(models.Model):
    """A network's own click id, as our app server reported it in a claim; apart from the clicks we generate."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="network_clicks")
    click_id = models.CharField(max_length=200)
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="network_clicks")
    user_id = models.CharField(max_length=200, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["network", "click_id"], name="one_network_click_per_id")]
        # The admin's search by click id alone, which the constraint's index (network first) cannot serve.
        indexes = [models.Index(fields=["click_id"], name="networkclick_click_id")]

    def __str__(self):
        return f"{self.network}: {self.click_id}"


class Source(models.TextChoices):
    POSTBACK = "postback", "postback from the network"
    CLAIM = "claim", "claim from our app server"


class Outcome(models.TextChoices):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    STATUS_CHANGE = "status_change"
    ADJUSTMENT = "adjustment", "adjustment (a new payout, same status)"
    REJECTED = "rejected"


class ReceivedPostback(models.Model):
    """One row per request that reached the receiver, whatever became of it."""

    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500, help_text="The key in the path is masked.")
    query = models.TextField(blank=True, help_text="Raw query string; a key parameter is masked.")
    content_type = models.CharField(max_length=200, blank=True)
    body = models.BinaryField(blank=True, default=b"")
    body_truncated = models.BooleanField(default=False)
    headers = models.JSONField(default=dict, blank=True, help_text="Request headers; secrets masked.")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.POSTBACK, db_index=True)
    network = models.ForeignKey(Network, null=True, blank=True, on_delete=models.SET_NULL, related_name="postbacks")
    outcome = models.CharField(max_length=20, choices=Outcome.choices, db_index=True)
    reason = models.CharField(
        max_length=40, blank=True, db_index=True, help_text="Why it was rejected, or why a status change was refused."
    )
    message = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True, help_text="Parameters after aliases and mapping.")
    click_id = models.CharField(max_length=200, blank=True, db_index=True)
    status = models.CharField(max_length=20, blank=True)
    payout = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    conversion = models.ForeignKey(
        "Conversion", null=True, blank=True, on_delete=models.SET_NULL, related_name="postbacks"
    )
    http_status = models.PositiveSmallIntegerField(default=200)
    processing_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["network", "-received_at"]),
            # Behind the admin's filters (the others are db_index columns).
            models.Index(fields=["http_status"], name="postback_http_status"),
            models.Index(fields=["method"], name="postback_method"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.outcome} {self.click_id}"


class RateState(models.TextChoices):
    CONVERTED = "converted"
    MISSING_RATE = "missing_rate"


class Conversion(models.Model):
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="conversions")
    known_click = models.ForeignKey(
        Click,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversions",
        help_text="Our generated click this conversion matched, if any.",
    )
    offer = models.ForeignKey(Offer, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversions")
    click_id = models.CharField(max_length=200)
    dedupe_id = models.CharField(
        max_length=200,
        blank=True,
        help_text="The transaction id, else the conversion id, else empty: with network and click id it "
        "identifies a conversion.",
    )
    transaction_id = models.CharField(max_length=200, blank=True)
    conversion_id = models.CharField(max_length=200, blank=True)
    external_offer_id = models.CharField(max_length=200, blank=True)
    user_id = models.CharField(max_length=200, blank=True, db_index=True)
    reference = models.CharField(
        max_length=200,
        blank=True,
        help_text="The value a later reversal names this conversion by (the network's reversal rule: e.g. its uuid).",
    )
    publisher_id = models.CharField(max_length=200, blank=True)
    advertiser_id = models.CharField(max_length=200, blank=True)
    conversion_type = models.CharField(max_length=50, blank=True)
    goal = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.POSTBACK, db_index=True)
    network_click = models.ForeignKey(
        NetworkClick,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversions",
        help_text="Claims: the network's click the claim named.",
    )
    not_reported = models.TextField(
        blank=True, help_text="Claims: why the network was not told (e.g. it has no outgoing postback)."
    )
    status = models.CharField(max_length=20, choices=Status.choices, db_index=True)
    payout = models.DecimalField(max_digits=18, decimal_places=6, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="USD")
    currency_amount = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="The network's virtual-currency amount for the user (currency_amount, val, points), as sent.",
    )
    sub1 = models.CharField(max_length=200, blank=True)
    sub2 = models.CharField(max_length=200, blank=True)
    sub3 = models.CharField(max_length=200, blank=True)
    sub4 = models.CharField(max_length=200, blank=True)
    sub5 = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    custom_data = models.JSONField(default=dict, blank=True)
    house_payout = models.DecimalField(
        max_digits=18, decimal_places=6, null=True, blank=True, help_text="The payout in the house currency."
    )
    exchange_rate = models.DecimalField(
        max_digits=18, decimal_places=8, null=True, blank=True, help_text="House units per unit of the currency."
    )
    rate_state = models.CharField(
        max_length=12,
        choices=RateState.choices,
        default=RateState.CONVERTED,
        db_index=True,
        help_text="missing_rate: no exchange rate on or before the conversion's date; fix with manage.py reconvert.",
    )
    is_test = models.BooleanField(default=False, db_index=True, help_text="Test postbacks never count in stats.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["network", "click_id", "dedupe_id"], name="conversion_dedupe_key")
        ]
        indexes = [
            models.Index(
                fields=["network", "reference"], name="conversion_reference", condition=~models.Q(reference="")
            ),
            # The admin's search by click id or transaction id, without the network the dedupe key starts with.
            models.Index(fields=["click_id"], name="conversion_click_id"),
            models.Index(fields=["transaction_id"], name="conversion_transaction_id"),
        ]
        permissions = [("claim_offer", "Can claim offers for users (POST /api/offers/<id>/claim)")]

    def __str__(self):
        return f"{self.click_id} {self.status}"


class EventKind(models.TextChoices):
    CREATED = "created"
    STATUS_CHANGE = "status_change"
    ADJUSTMENT = "adjustment", "adjustment (a new payout, same status)"
    # Recorded, never forwarded: what partners were sent stays fixed at the events that sent it.
    REPRICED = "repriced", "repriced (manage.py reconvert: a new exchange rate)"


class ConversionEvent(models.Model):
    """A conversion's birth or a change of its status: the unit that forwarding delivers."""

    conversion = models.ForeignKey(Conversion, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    from_status = models.CharField(max_length=20, blank=True, choices=Status.choices)
    to_status = models.CharField(max_length=20, choices=Status.choices)
    payout = models.DecimalField(
        max_digits=18, decimal_places=6, default=Decimal("0"), help_text="The conversion's payout after this event."
    )
    previous_payout = models.DecimalField(
        max_digits=18, decimal_places=6, null=True, blank=True, help_text="Adjustments: the payout before."
    )
    # No constraint in the database: on PostgreSQL the requests are partitioned by month, and a foreign key to them
    # would have to carry the request's date too. Retention clears this link before it removes the request, by
    # batch or by month (postbacks_project/retention.py), and readers take a missing request as none.
    postback = models.ForeignKey(
        ReceivedPostback, null=True, blank=True, on_delete=models.SET_NULL, db_constraint=False, related_name="events"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The outbox: the worker routes an event into its deliveries after the postback's transaction (partners.outbox).
    routed_at = models.DateTimeField(null=True, blank=True, help_text="When its deliveries were made; empty: not yet.")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["id"], condition=Q(routed_at__isnull=True), name="event_unrouted"),
            # Behind the admin's filters.
            models.Index(fields=["kind"], name="event_kind"),
            models.Index(fields=["to_status"], name="event_to_status"),
        ]

    def __str__(self):
        return f"{self.kind} {self.from_status or '-'} -> {self.to_status}"


class ExchangeRate(models.Model):
    """How many house-currency units one unit of `currency` was worth from `date` on."""

    currency = models.CharField(max_length=3)
    date = models.DateField()
    rate = models.DecimalField(max_digits=18, decimal_places=8, validators=[MinValueValidator(Decimal("0.00000001"))])

    class Meta:
        ordering = ["currency", "-date"]
        constraints = [models.UniqueConstraint(fields=["currency", "date"], name="one_rate_per_currency_day")]

    def __str__(self):
        return f"{self.currency} {self.date}: {self.rate}"


class PointsEntry(models.Model):
    """One change of a user's points; the balance is the sum. Entries are never edited, only added."""

    user_id = models.CharField(max_length=200, db_index=True)
    delta = models.IntegerField()
    reason = models.CharField(max_length=200)
    conversion = models.ForeignKey(Conversion, on_delete=models.PROTECT, related_name="points_entries")
    event = models.ForeignKey(
        ConversionEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="points_entries"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "points entries"

    def __str__(self):
        return f"{self.user_id} {self.delta:+d} ({self.reason})"


class OfferMapping(models.Model):
    """A network parameter value (e.g. survey_id=s-77) that names one of our offers, for postbacks without a click."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="offer_mappings")
    parameter = models.CharField(max_length=100, help_text="The network's parameter name, e.g. survey_id.")
    value = models.CharField(max_length=200)
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="mappings")

    class Meta:
        ordering = ["network", "parameter", "value"]
        constraints = [
            models.UniqueConstraint(fields=["network", "parameter", "value"], name="one_offer_per_mapped_value")
        ]

    def __str__(self):
        return f"{self.network}: {self.parameter}={self.value} -> {self.offer.name}"


class ConfigVersion(models.Model):
    """One row whose token changes with every change to networks or partners' routing (receiver.config)."""

    token = models.CharField(max_length=32)

    def __str__(self):
        return self.token
