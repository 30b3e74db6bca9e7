"""The receiver's public endpoints: postbacks, offer claims, click redirects and the health check."""

import logging
import time
from functools import wraps

from django.db import DatabaseError
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from . import acknowledgements, claims, signatures
from . import health as health_checks
from .inbound import capture, client_address
from .models import Click, Offer, Outcome, ReceivedPostback, Source
from .params import InvalidInput, normalise, normalise_claim, raw_params
from .security import rate_limited, unsigned_parameters
from .services import find_click, network_for_key, record_conversion, reject

logger = logging.getLogger(__name__)
REFUSED = {200: Outcome.REJECTED}
CHUNKED = "a chunked body (Transfer-Encoding: chunked) is not accepted; send it with a Content-Length"
STORAGE_DOWN = {"success": False, "message": "storage is unavailable; please retry later", "reason": "storage_down"}


def stored(source):
    """Wrap a receiving endpoint: every request is captured and stored whatever happens to it.

    A database outage answers 503 (the sender retries); a bug is stored with reason internal_error
    and answers 500, so that the request can be replayed once the bug is fixed.
    """

    def wrap(handler):
        @csrf_exempt
        @never_cache
        @wraps(handler)
        def view(request, *args, **kwargs):
            started = time.monotonic()
            inbound = capture(request, kwargs.get("key", ""))
            try:
                return handler(request, inbound, started, *args, **kwargs)
            except DatabaseError as exc:
                # Outage or bug, the sender retries either way; the log must say which.
                first_line = str(exc).splitlines()[0] if str(exc) else ""
                logger.error("receiver storage failed: %s: %s", type(exc).__name__, first_line)
                return JsonResponse(STORAGE_DOWN, status=503)
            except Exception:
                logger.exception("receiver failed on %s %s", inbound.method, inbound.path)
                try:
                    row = reject(
                        inbound, None, 500, "internal_error", "the receiver failed; the request is kept", source=source
                    )
                except DatabaseError:
                    return JsonResponse(STORAGE_DOWN, status=503)
                body = {"success": False, "message": "internal error; please retry later", "reason": "internal_error"}
                return JsonResponse({**body, "postbackId": row.pk}, status=500)

        return view

    return wrap


@stored(Source.POSTBACK)
def postback(request, inbound, started, key=""):
    """Validate, store, answer. Every request is stored, whatever the answer; nothing is sent out."""
    return _handle(request, inbound, started)


@stored(Source.CLAIM)
def claim(request, inbound, started, offer_id):
    """POST /api/offers/<id>/claim from our app server: record the claim once, credit points, report to the network."""
    network = None  # known once the offer is

    def refuse(status, reason, message, params=None):
        row = reject(inbound, network, status, reason, message, params=params, started=started, source=Source.CLAIM)
        return JsonResponse(
            {"success": False, "message": message, "reason": reason, "postbackId": row.pk}, status=status
        )

    if inbound.method != "POST":
        return refuse(405, "method_not_allowed", f"{inbound.method} is not allowed; claims are POSTed")
    if inbound.chunked:
        return refuse(411, "length_required", CHUNKED)
    try:
        claims.claimant(inbound)
    except claims.Refused as exc:
        return refuse(exc.status, exc.reason, exc.message)
    offer = Offer.objects.select_related("network").filter(pk=offer_id).first()
    if offer is None:
        return refuse(404, "unknown_offer", f"there is no offer {offer_id}")
    network = offer.network
    if not offer.is_active or not network.is_active:
        return refuse(404, "inactive_offer", f"offer {offer_id} or its network is not active")
    if inbound.body_truncated:
        return refuse(413, "body_too_large", "the body is larger than this receiver accepts")
    params = {}
    try:
        params = raw_params(inbound)
        fields = normalise_claim(params)
    except InvalidInput as exc:
        return refuse(400, exc.reason, str(exc), params)
    if rate_limited(request, "claim.user", fields["user_id"], "CLAIM_RATE_LIMIT"):
        return refuse(429, "rate_limited", f"too many claims for user {fields['user_id']}; retry later", params)
    row, outcome, conversion = claims.record_claim(inbound, offer, fields, started)
    return JsonResponse(claims.answer(row, outcome, conversion), status=row.http_status)


def _handle(request, inbound, started):
    def refuse(status, reason, message, network=None, params=None):
        inbound.key = inbound.key or inbound.key_in_body()  # refused before the parameters were read: mask it too
        # Only a refusal that sending again cannot fix is the network's to acknowledge its own way.
        ack = acknowledgements.lookup(network, "bad_signature" if reason == "bad_signature" else REFUSED.get(status))
        answered = ack["status"] if ack else status
        row = reject(inbound, network, answered, reason, message, params=params, started=started)
        body = {"success": False, "message": message, "reason": reason, "postbackId": row.pk}
        if status == 200:
            body["received_params"] = sorted(params or {})
        return acknowledgements.respond(ack, JsonResponse(body, status=status))

    if inbound.method not in ("GET", "POST"):
        return refuse(405, "method_not_allowed", f"{inbound.method} is not allowed; use GET or POST")
    if inbound.chunked:
        return refuse(411, "length_required", CHUNKED)
    if rate_limited(request, "receiver.ip", inbound.remote_addr or "unknown"):
        return refuse(429, "rate_limited", "too many postbacks from this address; slow down and retry")
    try:
        params, parse_error = raw_params(inbound), None
    except InvalidInput as exc:
        params, parse_error = {name: inbound.query.get(name) for name in inbound.query}, exc
    key = inbound.path_key or inbound.header("x-postback-key") or str(params.get("key") or "")
    inbound.key = key
    network = network_for_key(key) if key else None
    if network is None or not network.is_active:
        reason = "inactive_network" if network else ("unknown_key" if key else "missing_key")
        return refuse(404, reason, "unknown or inactive postback key", network)
    if not network.allows_ip(inbound.remote_addr or ""):
        return refuse(403, "ip_not_allowed", f"address {inbound.remote_addr} is not allowed for this network", network)
    if rate_limited(request, "receiver.network", str(network.pk)):
        return refuse(429, "rate_limited", "too many postbacks for this network; slow down and retry", network)
    if inbound.body_truncated:
        return refuse(413, "body_too_large", "the body is larger than this receiver accepts", network, params)
    recipe = network.recipe
    if recipe["scheme"] == "token":
        inbound.secret_names = frozenset({signatures.token_name(recipe).lower()})
        inbound.token = signatures.token_given(recipe, inbound, params)
    try:
        signatures.verify(recipe, network.hmac_secret, inbound, params)
    except signatures.Failed as exc:
        return refuse(401, "bad_signature", str(exc), network)
    signature_param = signatures.signature_name(recipe)
    if signature_param:  # how the request was signed, not what it says
        params.pop(signature_param, None)
    unsigned = unsigned_parameters(recipe, inbound)
    if unsigned:
        message = f"the signature covers the body only; send {', '.join(unsigned)} in the body, not the URL"
        return refuse(401, "unsigned_parameters", message, network)
    if parse_error is not None:
        return refuse(200, parse_error.reason, str(parse_error), network, params)
    try:
        fields = normalise(params, network.param_mapping, network.status_mapping, network)
    except InvalidInput as exc:
        return refuse(200, exc.reason, str(exc), network, params)

    click = find_click(network, fields["click_id"])
    if click is None and network.require_known_click:
        message = f"click_id {fields['click_id']!r} does not match a click we generated for this network"
        return refuse(200, "unknown_click", message, network, params)
    payout_given = any(name in params for name in ("payout", network.param_mapping.get("payout")))
    row, outcome, _event = record_conversion(inbound, network, fields, click, payout_given, started)
    ack = acknowledgements.lookup(network, outcome)
    if ack is not None and ack["status"] != row.http_status:
        ReceivedPostback.objects.filter(pk=row.pk).update(http_status=ack["status"])
    return acknowledgements.respond(ack, _answer(row, outcome, fields, params, started), params)


def _answer(row, outcome, fields, params, started):
    """The JSON contract's answer to a postback the receiver stored and processed."""
    if outcome == Outcome.REJECTED:
        body = {"success": False, "message": row.message, "reason": row.reason, "postbackId": row.pk}
        return JsonResponse({**body, "received_params": sorted(params)})
    if outcome == Outcome.DUPLICATE:
        # A status change the network's policy refuses is answered as a duplicate too, so the network stops retrying.
        refused = {"reason": row.reason} if row.reason else {}
        return JsonResponse(
            {
                "success": True,
                "duplicate": True,
                **refused,
                "message": row.message or "Postback already processed (duplicate)",
                "postbackId": row.pk,
                "conversionId": row.conversion_id,
            }
        )
    return JsonResponse(
        {
            "success": True,
            "message": {
                Outcome.ACCEPTED: "Postback received and processed successfully",
                Outcome.ADJUSTMENT: row.message.capitalize(),
            }.get(outcome, f"Status changed to {fields['status']}"),
            "postbackId": row.pk,
            "clickId": fields["click_id"],
            "conversionId": row.conversion_id,
            "status": fields["status"],
            "test": fields["is_test"],
            "processingTime": f"{int((time.monotonic() - started) * 1000)}ms",
        }
    )


@never_cache
@require_GET
def click(request, offer_id):
    """Record a click on one of our offers and send the user on with our click id filled in."""
    offer = get_object_or_404(Offer.objects.select_related("network"), pk=offer_id)
    if not offer.is_active or not offer.network.is_active:
        raise Http404("offer is not active")
    subs = {f"sub{i}": request.GET.get(f"sub{i}", "")[:200] for i in range(1, 6)}
    new = Click.objects.create(
        offer=offer,
        user_id=request.GET.get("user_id", "")[:200],
        partner_slug=request.GET.get("partner", "")[:60],
        ip=client_address(request),
        user_agent=request.headers.get("User-Agent", "")[:300],
        **subs,
    )
    return HttpResponseRedirect(offer.destination_for(new))


@never_cache
@require_GET
def health(request):
    report = health_checks.report()
    return JsonResponse(report, status=200 if report["status"] == "healthy" else 503)
