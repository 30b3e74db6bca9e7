"""The receiver's part of the integrator API: networks, offers, clicks, conversions with events, received postbacks."""

import json

from django.db.models import Prefetch
from rest_framework import mixins, serializers, viewsets

from postbacks_project.api import ApiViewMixin, ModelValidationMixin, choice, date_range, exact, flag, ident
from postbacks_project.masking import SECRET_NAME, mask_query, mask_secret

from .models import Click, Conversion, ConversionEvent, Network, Offer, Outcome, RateState, ReceivedPostback
from .statuses import Status


class NetworkSerializer(serializers.ModelSerializer):
    # The key and the HMAC secret let anyone post conversions: the API shows only enough to tell them apart.
    masked_key = serializers.CharField(read_only=True)
    masked_hmac_secret = serializers.SerializerMethodField()

    class Meta:
        model = Network
        fields = [
            "id",
            "name",
            "is_active",
            "masked_key",
            "masked_hmac_secret",
            "signature",
            "allowed_ips",
            "param_mapping",
            "status_mapping",
            "require_known_click",
            "allow_reapproval",
            "acknowledgements",
            "payout_scale",
            "default_currency",
            "decimal_comma",
            "created_at",
            "key_rotated_at",
        ]

    def get_masked_hmac_secret(self, network) -> str:
        return mask_secret(network.hmac_secret)


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
            "house_payout",
            "exchange_rate",
            "rate_state",
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


class NetworkViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Networks that post to us; keys and HMAC secrets are masked."""

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
