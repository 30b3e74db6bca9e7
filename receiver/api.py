"""The receiver's part of the integrator API: networks, offers, clicks, conversions with events, received postbacks."""

import json

from django.db.models import Prefetch
from rest_framework import mixins, serializers, viewsets

from postbacks_project.api import ApiViewMixin, ModelValidationMixin, choice, date_range, exact, flag, ident
from postbacks_project.masking import SECRET_NAME, mask_query, mask_secret

from . import presets
from .lifecycle import Status
from .models import Click, Conversion, ConversionEvent, Network, Offer, Outcome, RateState, ReceivedPostback

# What a write may set: whatever a preset fills in (other fields join presets.FIELDS as presets learn them), plus
# what no preset sets. The key is the server's (rotated in the admin), the secret has its own write-only field.
NETWORK_WRITABLE = list(
    dict.fromkeys(["name", "is_active", *presets.FIELDS, "allowed_ips", "require_known_click", "allow_reapproval"])
)


class PresetField(serializers.ChoiceField):
    """A preset's slug (an enum in the schema); an unknown one is refused with presets.preset's list of the known."""

    def __init__(self, **kwargs):
        super().__init__(choices=list(presets.all_presets()), **kwargs)

    def to_internal_value(self, data):
        if data == "" and self.allow_blank:
            return ""
        try:
            presets.preset(str(data))
        except presets.UnknownPreset as exc:
            raise serializers.ValidationError(str(exc)) from None
        return str(data)


def _has_nul(value):
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(map(_has_nul, value))
    return False


def no_nul(value):
    # PostgreSQL's jsonb takes no NUL (a 500 there), and no network sends one in a name, value or answer.
    if _has_nul(value):
        raise serializers.ValidationError("contains a NUL character")


class NetworkSerializer(ModelValidationMixin, serializers.ModelSerializer):
    # The key and the secret let anyone post conversions: the API shows only enough to tell them apart.
    masked_key = serializers.CharField(read_only=True)
    masked_hmac_secret = serializers.SerializerMethodField()
    secret = serializers.CharField(
        source="hmac_secret",
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=Network._meta.get_field("hmac_secret").max_length,
        style={"input_type": "password"},
        help_text="The secret the network gave you, the key of its signature recipe; write only, never shown "
        "(masked_hmac_secret tells it apart). Omit it to keep the current one, send an empty string to remove it.",
    )
    preset = PresetField(
        required=False,
        allow_blank=True,
        help_text="The preset the network was created from, blank for one set up by hand. Create only: start from "
        "this preset's settings (manage.py network_presets lists them); each field given in the same request "
        "replaces the preset's value. An update may send it back unchanged (or blank).",
    )

    class Meta:
        model = Network
        fields = [
            "id",
            *NETWORK_WRITABLE,
            "masked_key",
            "masked_hmac_secret",
            "secret",
            "preset",
            "created_at",
            "key_rotated_at",
        ]
        read_only_fields = ["created_at", "key_rotated_at"]
        extra_kwargs = {
            name: {"validators": [no_nul]}
            for name in NETWORK_WRITABLE
            if Network._meta.get_field(name).get_internal_type() == "JSONField"
        }

    def get_masked_hmac_secret(self, network) -> str:
        return mask_secret(network.hmac_secret)

    def validate(self, attrs):
        # Blank, or sent back as read, it changes nothing: a network's preset is where it started.
        slug = attrs.pop("preset", None) or None
        if self.instance is not None and slug == self.instance.preset:
            slug = None
        if slug is not None:
            if self.instance is not None:
                raise serializers.ValidationError(
                    {"preset": ["a preset is where a new network starts; to change this one, send the fields"]}
                )
            # The preset first, then what the request gives over it: a preset is a starting point.
            started = presets.apply(Network(), slug)
            attrs = {**{name: getattr(started, name) for name in presets.FIELDS}, **attrs, "preset": slug}
        try:
            return super().validate(attrs)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            # The model names its fields (hmac_secret); the caller knows them by this serializer's names (secret).
            names = {field.source: name for name, field in self.fields.items() if field.source != name}
            renamed = {names.get(key, key): errors for key, errors in exc.detail.items()}
            raise serializers.ValidationError(renamed) from None

    def get_initial(self):
        # The browsable API refills its form from this after a refused write: never with a write-only value.
        return {name: value for name, value in super().get_initial().items() if not self.fields[name].write_only}


class OfferSerializer(ModelValidationMixin, serializers.ModelSerializer):
    # A URL template: its {click_id} is no URI character, so not the URLField's schema (format: uri), which a
    # client would validate against; the model's URL check still runs (ModelValidationMixin).
    url = serializers.CharField(max_length=2000, help_text=Offer._meta.get_field("url").help_text)
    click_url = serializers.CharField(read_only=True, help_text="The URL users follow to reach the offer through us.")

    class Meta:
        model = Offer
        fields = [
            "id",
            "network",
            "name",
            "url",
            "payout",
            "currency",
            "points_rate",
            "is_active",
            "click_url",
            "created_at",
        ]
        read_only_fields = ["created_at"]


class ClickSerializer(serializers.ModelSerializer):
    network = serializers.IntegerField(source="offer.network_id", read_only=True)

    class Meta:
        model = Click
        fields = [
            "id",
            "click_id",
            "offer",
            "network",
            "user_id",
            "sub1",
            "sub2",
            "sub3",
            "sub4",
            "sub5",
            "partner_slug",
            "ip",
            "user_agent",
            "created_at",
        ]


class ConversionEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConversionEvent
        fields = ["id", "kind", "from_status", "to_status", "payout", "previous_payout", "postback", "created_at"]


class ConversionSerializer(serializers.ModelSerializer):
    events = ConversionEventSerializer(many=True, read_only=True)

    class Meta:
        model = Conversion
        fields = [
            "id",
            "network",
            "offer",
            "known_click",
            "click_id",
            "transaction_id",
            "conversion_id",
            "external_offer_id",
            "user_id",
            "publisher_id",
            "advertiser_id",
            "conversion_type",
            "status",
            "payout",
            "currency",
            "currency_amount",
            "house_payout",
            "exchange_rate",
            "rate_state",
            "reference",
            "sub1",
            "sub2",
            "sub3",
            "sub4",
            "sub5",
            "ip",
            "user_agent",
            "custom_data",
            "is_test",
            "created_at",
            "updated_at",
            "events",
        ]


class ReceivedPostbackSerializer(serializers.ModelSerializer):
    body = serializers.SerializerMethodField(help_text="The body as text, a key or other secret in it masked.")

    class Meta:
        model = ReceivedPostback
        fields = [
            "id",
            "received_at",
            "method",
            "path",
            "query",
            "content_type",
            "body",
            "body_truncated",
            "headers",
            "remote_addr",
            "network",
            "outcome",
            "reason",
            "message",
            "params",
            "click_id",
            "status",
            "payout",
            "conversion",
            "http_status",
            "processing_ms",
        ]

    def get_body(self, row) -> str:
        return masked_body(bytes(row.body), row.content_type, row.network.key if row.network else "")


def masked_body(body, content_type, network_key):
    """The stored body as text with secrets masked: a network may post its key in the body, which is stored raw."""
    text = body.decode("utf-8", errors="replace")
    if content_type == "application/x-www-form-urlencoded":
        text = mask_query(text)
    elif content_type == "application/json":
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and any(SECRET_NAME.search(name) for name in data):
            text = json.dumps({k: mask_secret(str(v)) if SECRET_NAME.search(k) else v for k, v in data.items()})
    # Whatever the format (multipart, text), the network's own key is the secret we know to look for.
    if network_key:
        text = text.replace(network_key, mask_secret(network_key))
    return text


NETWORK = ident("network_id", "network")
CLICK_ID = exact("click_id", "The click id, exactly.")


class NetworkViewSet(ApiViewMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Networks that post to us; keys and secrets are masked. Create (from a preset if you like) and update run the
    admin's checks; networks are deactivated, not deleted, and their keys are rotated in the admin."""

    queryset = Network.objects.all()
    serializer_class = NetworkSerializer
    query_filters = {**date_range("created_at"), "active": flag("is_active", "Active (true) or inactive (false).")}


class OfferViewSet(ApiViewMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Our offers. Create and update run the same checks as the admin; offers are deactivated, not deleted."""

    queryset = Offer.objects.all()
    serializer_class = OfferSerializer
    query_filters = {
        **date_range("created_at"),
        "network": NETWORK,
        "active": flag("is_active", "Active (true) or inactive (false)."),
    }


class ClickViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Clicks we recorded on /click/<offer>/."""

    queryset = Click.objects.select_related("offer")
    serializer_class = ClickSerializer
    query_filters = {
        **date_range("created_at"),
        "network": ident("offer__network_id", "network"),
        "offer": ident("offer_id", "offer"),
        "click_id": CLICK_ID,
        "partner_slug": exact("partner_slug", "The slug of the partner the click came through."),
    }


class ConversionViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Conversions with their events; each event's deliveries are at /api/v1/deliveries/?conversion=<id>."""

    # Events oldest first: they read as the conversion's history.
    queryset = Conversion.objects.prefetch_related(Prefetch("events", ConversionEvent.objects.order_by("id")))
    serializer_class = ConversionSerializer
    query_filters = {
        **date_range("created_at"),
        "status": choice("status", Status.values, "The conversion's current status."),
        "network": NETWORK,
        "offer": ident("offer_id", "offer"),
        "click_id": CLICK_ID,
        "transaction_id": exact("transaction_id", "The network's transaction id, exactly."),
        "rate_state": choice("rate_state", RateState.values, "missing_rate: waiting for an exchange rate."),
        "test": flag("is_test", "Test conversions (true) or real ones (false)."),
    }


class ReceivedPostbackViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Every request that reached the receiver, rejected ones included."""

    queryset = ReceivedPostback.objects.select_related("network")
    serializer_class = ReceivedPostbackSerializer
    query_filters = {
        **date_range("received_at"),
        "outcome": choice("outcome", Outcome.values, "What became of the request."),
        "status": choice("status", Status.values, "The conversion status the postback carried."),
        "reason": exact("reason", "Why it was rejected, e.g. unknown_key or bad_signature."),
        "network": NETWORK,
        "click_id": CLICK_ID,
    }
