"""Offer claims: our app server says a user completed an offer; we record it once and hand it to forwarding."""

from rest_framework.authtoken.models import Token

from postbacks_project import metrics
from postbacks_project.db import write_transaction

from . import admission, ledger
from .admission import Refused
from .lifecycle import Status
from .models import Conversion, Network, NetworkClick, Offer, Outcome, Source
from .params import InvalidInput, normalise_claim, raw_params
from .services import insert_conversion, jsonable, open_event, store

CLAIM_PREFIX = "claim:"


def claimant(inbound):
    """The user behind the request's API token (Authorization: Token <key>, or Bearer), allowed to claim."""
    scheme, _, key = inbound.header("authorization").partition(" ")
    if scheme.lower() not in ("token", "bearer") or not key.strip():
        raise Refused(401, "missing_token", "send the API token as Authorization: Token <key>")
    token = Token.objects.select_related("user").filter(key=key.strip()).first()
    if token is None or not token.user.is_active:
        raise Refused(401, "bad_token", "the API token is unknown or its user is inactive")
    if not token.user.has_perm("receiver.claim_offer"):
        raise Refused(403, "forbidden", "this token's user lacks the permission receiver.claim_offer")
    return token.user


def claimed_offer(offer_id):
    """The offer claimed, with its network; 404 unless both are active."""
    offer = Offer.objects.select_related("network").filter(pk=offer_id).first()
    if offer is None:
        raise Refused(404, "unknown_offer", f"there is no offer {offer_id}")
    if not offer.is_active or not offer.network.is_active:
        raise Refused(404, "inactive_offer", f"offer {offer_id} or its network is not active", offer.network)
    return offer


def claim_fields(inbound, network):
    """(fields, params): the claim's fields and the parameters they came from, or 400 refused naming what is wrong."""
    params = {}
    try:
        params = raw_params(inbound)
        return normalise_claim(params), params
    except InvalidInput as exc:
        raise Refused(400, exc.reason, str(exc), network, params) from None


def user_rate(request, fields, network, params):
    """429 once the claimed user has been claimed for more than CLAIM_RATE_LIMIT allows."""
    message = f"too many claims for user {fields['user_id']}; retry later"
    admission.rate(request, "claim.user", fields["user_id"], message, network, params, "CLAIM_RATE_LIMIT")


def dedupe_id_for(goal):
    """A claim's dedupe key: one conversion per network, click and goal, kept apart from the network's own ids."""
    return CLAIM_PREFIX + goal


def record_claim(inbound, offer, fields, started=None):
    """Store the claim and, the first time, its conversion (approved) and points; return (row, outcome, conversion).

    The conversion's unique key (network, click id, "claim:" + goal) makes a repeated claim a
    duplicate, however many arrive at once.
    """
    network = offer.network
    goal = fields["goal"] or offer.goal
    payout = offer.payout if fields["payout"] is None else fields["payout"]
    with write_transaction():
        network_click, _created = NetworkClick.objects.get_or_create(
            network=network, click_id=fields["click_id"], defaults={"offer": offer, "user_id": fields["user_id"]}
        )
        if not network.has_claims:
            Network.objects.filter(pk=network.pk).update(has_claims=True)
            network.has_claims = True
        conversion = insert_conversion(
            Conversion(
                network=network,
                offer=offer,
                network_click=network_click,
                source=Source.CLAIM,
                click_id=fields["click_id"],
                dedupe_id=dedupe_id_for(goal),
                external_offer_id=str(offer.pk),
                user_id=fields["user_id"],
                conversion_type=fields["conversion_type"],
                goal=goal,
                status=Status.APPROVED,
                payout=payout,
                currency=offer.currency,
                custom_data=jsonable(fields["custom_data"]),
            )
        )
        outcome = Outcome.ACCEPTED if conversion is not None else Outcome.DUPLICATE
        if conversion is None:
            conversion = Conversion.objects.get(
                network=network, click_id=fields["click_id"], dedupe_id=dedupe_id_for(goal)
            )
        row = store(
            inbound,
            source=Source.CLAIM,
            network=network,
            outcome=outcome,
            fields={"click_id": fields["click_id"], "status": Status.APPROVED, "payout": payout},
            params={**fields, "goal": goal, "payout": payout},
            conversion=conversion,
            http_status=201 if outcome == Outcome.ACCEPTED else 200,
            started=started,
        )
        row.save()
        if outcome == Outcome.ACCEPTED:
            open_event(conversion, outcome, "", row)
    metrics.postback_stored(row)
    if outcome == Outcome.ACCEPTED:
        metrics.conversion_recorded(conversion)
    return row, outcome, conversion


def answer(row, outcome, conversion):
    """The JSON an app server gets for a claim it made (or repeated)."""
    body = {
        "success": True,
        "duplicate": outcome == Outcome.DUPLICATE,
        "message": "claim recorded" if outcome == Outcome.ACCEPTED else "already claimed (duplicate)",
        "postbackId": row.pk,
        "conversionId": conversion.pk,
        "clickId": conversion.click_id,
        "userId": conversion.user_id,
        "goal": conversion.goal,
        "conversionType": conversion.conversion_type,
        "status": conversion.status,
        "payout": str(conversion.payout),
        "currency": conversion.currency,
        "points": ledger.points_held(conversion),
        "reported": not conversion.not_reported,
    }
    if conversion.not_reported:
        body["notReportedReason"] = conversion.not_reported
    return body
