"""Offer claims: our app server says a user completed an offer; we record it once and hand it to forwarding."""

from rest_framework.authtoken.models import Token

from postbacks_project.db import write_transaction

from . import ledger
from .models import Conversion, Network, NetworkClick, Outcome, Source
from .services import insert_conversion, jsonable, open_event, store
from .statuses import Status

CLAIM_PREFIX = "claim:"


class Refused(Exception):
    """A claim we do not take, with the HTTP status, reason and message to answer and store."""

    def __init__(self, status, reason, message):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


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
