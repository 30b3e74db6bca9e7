"""Store a postback and turn it into a conversion or a status change, deduped by the database."""

import time
from decimal import Decimal

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from postbacks_project import metrics
from postbacks_project.cli import money_text
from postbacks_project.db import write_transaction
from postbacks_project.masking import mask_headers, mask_query, mask_secret

from . import config, currency, ledger, rows, signatures
from .lifecycle import Status, move_allowed
from .models import (
    Conversion,
    ConversionEvent,
    EventKind,
    Network,
    Offer,
    OfferMapping,
    Outcome,
    ReceivedPostback,
    Source,
)
from .params import SUBS, as_pk, click_id_of
from .signals import conversion_event_created


def store(
    inbound,
    *,
    network,
    outcome,
    reason="",
    message="",
    fields=None,
    params=None,
    http_status=200,
    conversion=None,
    started=None,
    source=Source.POSTBACK,
):
    """Build (not save) the row that records a request; callers save it in their own transaction."""
    fields = fields or {}
    return ReceivedPostback(
        method=inbound.method[:10],
        path=inbound.path,
        query=mask_query(inbound.query_string, inbound.secret_names),
        content_type=inbound.content_type[:200],
        body=inbound.stored_body(),
        body_truncated=inbound.body_truncated,
        headers=mask_headers(inbound.headers.items(), inbound.secret_names),
        remote_addr=inbound.remote_addr,
        source=source,
        network=network,
        outcome=outcome,
        reason=reason,
        message=message,
        params=jsonable(_masked(params or {}, inbound.secret_names)),
        click_id=fields.get("click_id") or click_id_of(params, network.param_mapping if network else None),
        status=fields.get("status", ""),
        payout=fields.get("payout"),
        conversion=conversion,
        http_status=http_status,
        processing_ms=_elapsed_ms(started),
    )


def reject(inbound, network, http_status, reason, message, params=None, started=None, source=Source.POSTBACK):
    row = store(
        inbound,
        source=source,
        network=network,
        outcome=Outcome.REJECTED,
        reason=reason,
        message=message,
        params=params,
        http_status=http_status,
        started=started,
    )
    rows.insert(row)
    metrics.postback_stored(row)
    return row


def networks(held=False):
    """(this process's copy of the networks by key, its token if unconfirmed: `held` reads no token now, and the
    caller confirms the one returned, as receiver.config.held says; else the copy is current and the token None)."""
    if held:
        return config.held("networks", _load_networks)
    return config.cached("networks", _load_networks), None


def _load_networks():
    return {network.key: network for network in Network.objects.all()}


def find_click(network, click_id):
    """(our click with this id if it was generated for one of this network's offers, else None; the configuration's
    token, read with it)."""
    return rows.click_for(click_id, network.pk)


TRANSITION_REFUSED = "status_transition_refused"
UNKNOWN_ORIGINAL = "unknown_original"
UNSIGNED_PAYOUT = "unsigned_payout_change"
TEST_ON_REAL = "test_on_real_conversion"
# The statuses whose payout a network may change: a rejected or reversed conversion is worth nothing.
ADJUSTABLE = (Status.APPROVED, Status.PENDING)
MAPPED_PARAMETERS_MAX = 20
CLAIMS_PER_CLICK_MAX = 50


def find_offer(network, click, external_offer_id, custom):
    """Our offer: the click's, else our offer id, else one a mapped parameter names (e.g. survey_id)."""
    if click is not None:
        return click.offer
    if as_pk(external_offer_id) is not None:
        offer = Offer.objects.filter(pk=as_pk(external_offer_id), network=network).first()
        if offer is not None:
            return offer
    pairs = [(name, value) for name, value in custom.items() if isinstance(value, (str, int))][:MAPPED_PARAMETERS_MAX]
    if not pairs:
        return None
    named = Q()
    for name, value in pairs:
        named |= Q(parameter=name, value=str(value))
    mapping = OfferMapping.objects.filter(named, network=network).select_related("offer").first()
    return mapping.offer if mapping else None


def record_conversion(inbound, network, fields, click, payout_given, started):
    """Store the request and its effect in one transaction; return (row, outcome, event or None).

    The unique constraint on (network, click_id, dedupe_id) decides duplicates, so two
    concurrent copies of one postback can never both create a conversion. A repeat with another
    status changes it when the network's status policy allows the move (statuses.move_allowed). A
    postback about a click our app server claimed updates that claim's conversion instead. A reversal
    never creates a conversion: it lands on its original, found by the same ids or by the reference the
    network's reversal rule names, or is refused as unknown_original.
    """
    reversal = fields["reversal"]
    offer = None if reversal else find_offer(network, click, fields["offer_id"], fields["custom_data"])
    claimed = claimed_dedupe_id(network, fields) if network.has_claims else None
    dedupe_id = claimed if claimed is not None else fields["transaction_id"] or fields["conversion_id"]
    may_create = claimed is None and not reversal
    if may_create and connection.vendor == "postgresql":
        recorded = _accept_in_one_statement(inbound, network, fields, click, offer, dedupe_id, started)
        if recorded is not None:
            return recorded
        may_create = False  # its INSERT found the dedupe key taken, by a committed row: no second try
    with write_transaction():
        conversion = None
        if may_create:
            conversion = insert_conversion(_new_conversion(network, fields, click, offer, dedupe_id))
        previous, previous_payout = "", None
        if conversion is not None:
            outcome, reason, message = Outcome.ACCEPTED, "", ""
        else:
            conversion = _existing(network, fields, dedupe_id, strict=reversal and claimed is None)
            if conversion is None:
                outcome, reason, message = Outcome.REJECTED, UNKNOWN_ORIGINAL, _unknown_original(network, fields)
            else:
                previous, previous_payout = conversion.status, conversion.payout
                outcome, reason, message = _repeat(network, conversion, fields, payout_given)
                if outcome in (Outcome.STATUS_CHANGE, Outcome.ADJUSTMENT):
                    _change(conversion, fields, payout_given)
        row = store(
            inbound,
            network=network,
            outcome=outcome,
            reason=reason,
            message=message,
            fields=fields,
            params=fields,
            conversion=None if outcome == Outcome.REJECTED else conversion,
            started=started,
        )
        rows.insert(row)
        changed = outcome in (Outcome.ACCEPTED, Outcome.STATUS_CHANGE, Outcome.ADJUSTMENT)
        event = open_event(conversion, outcome, previous, row, previous_payout) if changed else None
    metrics.postback_stored(row)
    if event is not None:
        metrics.conversion_recorded(conversion, previous, previous_payout)
    return row, outcome, event


def _accept_in_one_statement(inbound, network, fields, click, offer, dedupe_id, started):
    """PostgreSQL: a new conversion with its request row, event and points entry in one statement (rows.insert_chained)
    in place of a transaction of four; None, with nothing written, when the dedupe key exists: the caller's
    transaction then handles the repeat as any other."""
    conversion = _new_conversion(network, fields, click, offer, dedupe_id)
    currency.convert(conversion)
    row = store(
        inbound,
        network=network,
        outcome=Outcome.ACCEPTED,
        fields=fields,
        params=fields,
        conversion=conversion,
        started=started,
    )
    event = _event(conversion, Outcome.ACCEPTED, "", row)
    entry = ledger.entry_for(conversion, event, fresh=True)
    if not rows.insert_chained([conversion, row, event] + ([entry] if entry else [])):
        return None
    conversion_event_created.send(sender=ConversionEvent, event=event)
    metrics.postback_stored(row)
    metrics.conversion_recorded(conversion, "", None)
    return row, Outcome.ACCEPTED, event


def _new_conversion(network, fields, click, offer, dedupe_id):
    subs = {name: fields[name] or (getattr(click, name) if click else "") for name in SUBS}
    return Conversion(
        network=network,
        known_click=click,
        offer=offer,
        click_id=fields["click_id"],
        dedupe_id=dedupe_id,
        transaction_id=fields["transaction_id"],
        conversion_id=fields["conversion_id"],
        external_offer_id=fields["offer_id"],
        user_id=fields["user_id"] or (click.user_id if click else ""),
        reference=fields["reference"],
        publisher_id=fields["publisher_id"],
        advertiser_id=fields["advertiser_id"],
        conversion_type=fields["conversion_type"],
        goal=fields["goal"],
        status=fields["status"],
        payout=fields["payout"],
        currency=fields["currency"] or (offer.currency if offer else "") or "USD",
        currency_amount=fields["currency_amount"],
        ip=fields["ip"] or None,
        user_agent=fields["user_agent"],
        custom_data=jsonable(fields["custom_data"]),
        is_test=fields["is_test"],
        **subs,
    )


def _existing(network, fields, dedupe_id, strict):
    """The conversion a repeat or a reversal is about, locked; None only for a reversal (`strict`) that names none."""
    mine = Conversion.objects.select_for_update()
    if strict and fields["original"]:
        return mine.filter(network=network, reference=fields["original"]).order_by("pk").first()
    found = mine.filter(network=network, click_id=fields["click_id"], dedupe_id=dedupe_id)
    return found.first() if strict else found.get()


def _unknown_original(network, fields):
    rule = network.reversal_rule
    if fields["original"]:
        named = f"{rule['original']} {fields['original']!r}"
    else:
        transaction = fields["transaction_id"] or fields["conversion_id"]
        named = f"click_id {fields['click_id']!r} with transaction id {transaction!r}"
    return (
        f"this reversal names {named}, which is no conversion of this network; nothing was changed (a reversal never "
        "creates a conversion)"
    )


def insert_conversion(conversion):
    """Insert a new conversion (converted to the house currency); None if its dedupe key already exists.

    One statement, no savepoint: PostgreSQL's INSERT ... ON CONFLICT DO NOTHING RETURNING id (SQLite's INSERT OR
    IGNORE ... RETURNING id, which needs SQLite 3.35+) returns no row for a duplicate, where a failed plain INSERT
    would need a savepoint to roll back to. bulk_create(ignore_conflicts=True) cannot tell the two apart (it
    returns no ids).
    """
    currency.convert(conversion)
    return conversion if rows.insert(conversion, ignore_conflicts=True) else None


EVENT_KINDS = {
    Outcome.ACCEPTED: EventKind.CREATED,
    Outcome.STATUS_CHANGE: EventKind.STATUS_CHANGE,
    Outcome.ADJUSTMENT: EventKind.ADJUSTMENT,
}


def open_event(conversion, outcome, previous, row, previous_payout=None):
    """The event of a new conversion, a status change or a payout change, points settled. It is the outbox: the
    worker routes it into deliveries after this transaction commits (partners.outbox)."""
    event = _event(conversion, outcome, previous, row, previous_payout)
    rows.insert(event)
    ledger.settle(conversion, event, fresh=outcome == Outcome.ACCEPTED)
    conversion_event_created.send(sender=ConversionEvent, event=event)
    return event


def _event(conversion, outcome, previous, row, previous_payout=None):
    return ConversionEvent(
        conversion=conversion,
        kind=EVENT_KINDS[outcome],
        from_status=previous,
        to_status=conversion.status,
        payout=conversion.payout,
        previous_payout=previous_payout if outcome == Outcome.ADJUSTMENT else None,
        postback=row,
    )


def claimed_dedupe_id(network, fields):
    """The dedupe key of the claim this postback is about, or None.

    A network reports back on the click id our app server claimed, usually without our ids: the
    click names the claim, the goal narrows it when the network sends one, and with several
    claims left the transaction or conversion id must be the one we reported ({conversion_id}).
    """
    claims = Conversion.objects.filter(network=network, click_id=fields["click_id"], source=Source.CLAIM)
    if fields["goal"]:
        claims = claims.filter(goal=fields["goal"])
    found = list(claims.values_list("pk", "dedupe_id")[:CLAIMS_PER_CLICK_MAX])
    if len(found) > 1:
        ours = {fields["transaction_id"], fields["conversion_id"]}
        found = [(pk, dedupe_id) for pk, dedupe_id in found if str(pk) in ours]
    return found[0][1] if len(found) == 1 else None


def _repeat(network, conversion, fields, payout_given):
    """(outcome, reason, message) of a postback about a conversion we have.

    A test postback about a real conversion is refused: it would approve it for real, credit points and
    forward it. A move the network's policy refuses is stored and answered as a duplicate: the network stops
    retrying a postback it cannot change, and nothing is credited or forwarded.
    """
    previous, status = conversion.status, fields["status"]
    if fields["is_test"] and not conversion.is_test:
        message = (
            f"a test postback cannot change conversion {conversion.pk}, which is real; send tests with a "
            "transaction id of their own"
        )
        return Outcome.REJECTED, TEST_ON_REAL, message
    if previous == status:
        # A new payout under approval or pending changes what the conversion is worth; a final one is worth 0.
        if payout_given and fields["payout"] != conversion.payout and status in ADJUSTABLE:
            payout_name = network.param_mapping.get("payout", "payout")
            if not signatures.covers(network.recipe, payout_name):
                message = (
                    f"this network's signature does not cover {payout_name}, so a new payout for conversion "
                    f"{conversion.pk} cannot be trusted; it stays {money_text(conversion.payout)}"
                )
                return Outcome.DUPLICATE, UNSIGNED_PAYOUT, message
            message = f"payout changed from {money_text(conversion.payout)} to {money_text(fields['payout'])}"
            return Outcome.ADJUSTMENT, "", message
        return Outcome.DUPLICATE, "", ""
    if not move_allowed(previous, status, network.allow_reapproval):
        return (
            Outcome.DUPLICATE,
            TRANSITION_REFUSED,
            f"a status change from {previous} to {status} is not allowed for this network; the conversion stays "
            f"{previous}",
        )
    return Outcome.STATUS_CHANGE, "", ""


def _change(conversion, fields, payout_given):
    """A new status, or a new payout under the same one; the rate stays the one the conversion was made at.

    A take-back keeps the payout it takes back: the amount a network sends with a reversal is stored on the
    postback's row, never on the conversion.
    """
    conversion.status = fields["status"]
    conversion.updated_at = timezone.now()
    update = ["status", "updated_at"]
    if payout_given and fields["status"] in ADJUSTABLE:
        conversion.payout = fields["payout"]
        currency.reprice(conversion)
        update += ["payout", "house_payout"]
    conversion.save(update_fields=update)


def _masked(params, also=()):
    """The parameters as stored: a key or a token sent among them is masked, like one in the path or a header."""
    names = [name for name in params if name == "key" or name.lower() in also]
    return {**params, **{name: mask_secret(str(params[name])) for name in names}} if names else params


def _elapsed_ms(started):
    return int((time.monotonic() - started) * 1000) if started else 0


def jsonable(value):
    """Decimals become strings so that JSON fields keep their exact digits."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value
