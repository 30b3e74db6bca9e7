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

from postbacks_project import metrics

from . import acknowledgements, admission, claims, config, services
from . import health as health_checks
from .admission import Refused
from .inbound import capture, client_address
from .models import Click, Offer, Outcome, ReceivedPostback, Source
from .params import ID_MAX_LENGTH, SUBS
from .services import find_click, record_conversion, reject

logger = logging.getLogger(__name__)
REFUSED = {200: Outcome.REJECTED}
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
            answer = answered(request, started, *args, **kwargs)
            metrics.request_answered(source, answer.status_code, time.monotonic() - started)
            return answer

        def answered(request, started, *args, **kwargs):
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
    try:
        admission.method(inbound, ("POST",), "claims are POSTed")
        admission.length(inbound)
        claims.claimant(inbound)
        offer = claims.claimed_offer(offer_id)
        admission.body_size(inbound, offer.network)
        fields, params = claims.claim_fields(inbound, offer.network)
        claims.user_rate(request, fields, offer.network, params)
    except Refused as refused:
        return _refused(inbound, refused, started, Source.CLAIM)
    row, outcome, conversion = claims.record_claim(inbound, offer, fields, started)
    return JsonResponse(claims.answer(row, outcome, conversion), status=row.http_status)


def _handle(request, inbound, started):
    """The receiver contract's checks in its order, then the conversion; a refusal at any check is stored and
    answered in one place, _refused()."""
    try:
        admission.method(inbound, ("GET", "POST"), "use GET or POST")
        admission.length(inbound)
        admission.sender_rate(request, inbound)
        params, unreadable = admission.parameters(inbound)
        network, fields, click = _configured_checks(request, inbound, params, unreadable)
    except Refused as refused:
        return _refused(inbound, refused, started)
    payout_given = any(name in params for name in ("payout", network.param_mapping.get("payout")))
    row, outcome, _event = record_conversion(inbound, network, fields, click, payout_given, started)
    ack = acknowledgements.lookup(network, outcome)
    if ack is not None and ack["status"] != row.http_status:
        ReceivedPostback.objects.filter(pk=row.pk).update(http_status=ack["status"])
    return acknowledgements.respond(ack, _answer(row, outcome, fields, params, started), params)


def _configured_checks(request, inbound, params, unreadable):
    """The checks that read the configuration, and the click: (network, fields, click).

    They read the copy of the networks this process holds without reading its token first, because the click's
    statement reads the token too: an accepted postback pays one statement for both. A copy found stale there, or a
    refusal on a copy not yet confirmed (one token read of its own, on a path that stores no conversion), sends the
    checks round once more on a current copy, so that no request is judged on a stale one; the network's rate limit
    then counts that request twice, once per process and configuration change.
    """
    networks, unconfirmed = services.networks(held=True)
    while True:
        try:
            network = admission.network(inbound, params, networks)
            admission.address(inbound, network)
            admission.network_rate(request, network)
            admission.body_size(inbound, network, params)
            admission.signature(inbound, network, params)
            admission.parsed(unreadable, network, params)
            fields = admission.fields(network, params)
            click, token = find_click(network, fields["click_id"])
        except Refused:
            if unconfirmed is None or config.current(unconfirmed):
                raise
        else:
            if unconfirmed is None or token == unconfirmed:
                break
        networks, unconfirmed = services.networks()
    if click is None and network.require_known_click:
        message = f"click_id {fields['click_id']!r} does not match a click we generated for this network"
        raise Refused(200, "unknown_click", message, network, params)
    return network, fields, click


def _refused(inbound, refused, started, source=Source.POSTBACK):
    """Store a refused request and answer it: the JSON contract, or a postback's network's own acknowledgement."""
    status, reason, network = refused.status, refused.reason, refused.network
    ack = None
    if source == Source.POSTBACK:
        # Only a refusal that sending again cannot fix is the network's to acknowledge its own way.
        ack = acknowledgements.lookup(network, "bad_signature" if reason == "bad_signature" else REFUSED.get(status))
    answered = ack["status"] if ack else status
    row = reject(inbound, network, answered, reason, refused.message, refused.params, started, source)
    body = {"success": False, "message": refused.message, "reason": reason, "postbackId": row.pk}
    if status == 200:
        body["received_params"] = sorted(refused.params or {})
    return acknowledgements.respond(ack, JsonResponse(body, status=status), refused.params)


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
    subs = {name: request.GET.get(name, "")[:ID_MAX_LENGTH] for name in SUBS}
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
