"""The portal's pages for one partner: postback settings with preview, deliveries, and one delivery's story."""

import time

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from partners.macros import event_name, sample_values
from partners.models import Breaker, Effect, State
from partners.outbound import build_request
from partners.redelivery import REPLAYABLE, redeliver
from postbacks_project.cli import money_text
from postbacks_project.masking import mask_headers

from . import stats
from .access import own_partners, partner_page, partner_user_required
from .changes import request_settings
from .forms import EDITABLE, DeliveryFilterForm, PostbackSettingsForm
from .models import Review
from .terms import macro_reference, read_only_terms

PAGE_SIZE = 50
PARKED_SHOWN = 1000


def _render(request, template, context):
    return render(request, template, {"own_partners": own_partners(request.user), **context})


@partner_user_required
def home(request):
    return _render(request, "portal/home.html", {})


def _preview(partner):
    """The request the sample conversion would make: the admin preview's renderer, with secrets masked."""
    outbound = build_request(partner, sample_values(partner), "msg_preview", int(time.time()))
    return {
        "method": outbound.method,
        "url": outbound.url,
        "headers": mask_headers(outbound.headers.items()),
        "body": outbound.body.decode(),
    }


@partner_page
def postback_settings(request, partner):
    form = PostbackSettingsForm(partner, request.POST or None)
    preview = None
    if request.method != "POST":
        preview = _preview(partner)
    elif form.is_valid():
        if request.POST.get("action") == "save":
            values = {name: form.cleaned_data[name] for name in EDITABLE}
            changed, pending = request_settings(partner, values, request.user)
            if pending:
                messages.info(
                    request, f"Sent for approval: {', '.join(pending.new_values)}. It applies once we approve it."
                )
            elif changed:
                messages.success(request, f"Saved: {', '.join(record.field for record in changed)}.")
            else:
                messages.info(request, "Nothing changed.")
            return redirect("portal:settings", partner_id=partner.pk)
        preview = _preview(form.candidate)
    context = {
        "partner": partner,
        "form": form,
        "preview": preview,
        "terms": read_only_terms(partner),
        "macros": macro_reference(partner),
        "pending": partner.pending_portal_changes.filter(review=Review.PENDING).first(),
    }
    return _render(request, "portal/settings.html", context)


def _amount_text(delivery):
    if delivery.amount is None:
        return ""
    text = f"{money_text(delivery.amount)} {delivery.amount_currency}"
    return {Effect.CREDIT: f"+{text}", Effect.DEBIT: f"-{text}"}.get(delivery.effect, f"({text})")


def _page_link(request, **cursor):
    query = request.GET.copy()
    for name in ("before", "after"):
        query.pop(name, None)
    query.update(cursor)
    return "?" + query.urlencode()


@partner_page
def deliveries(request, partner):
    """Newest first, 50 a page; pages go by id (before/after), so no page counts the partner's whole table."""
    form = DeliveryFilterForm(request.GET)
    rows, newer, older = [], None, None
    if form.is_valid():
        matching = form.filter(partner.deliveries.select_related("event__conversion"))
        after, before = form.cleaned_data["after"], form.cleaned_data["before"]
        if after is not None:
            rows = list(matching.filter(id__gt=after).order_by("id")[: PAGE_SIZE + 1])
            has_newer = len(rows) > PAGE_SIZE
            rows = rows[:PAGE_SIZE][::-1]
            has_older = bool(rows) and matching.filter(id__lt=rows[-1].id).exists()
        else:
            if before is not None:
                matching = matching.filter(id__lt=before)
            rows = list(matching.order_by("-id")[: PAGE_SIZE + 1])
            has_older = len(rows) > PAGE_SIZE
            rows = rows[:PAGE_SIZE]
            has_newer = before is not None and bool(rows)
        if rows and has_newer:
            newer = _page_link(request, after=rows[0].id)
        if rows and has_older:
            older = _page_link(request, before=rows[-1].id)
    for delivery in rows:
        delivery.event_label = event_name(delivery.event)
        delivery.amount_text = _amount_text(delivery)
    context = {
        "partner": partner,
        "form": form,
        "deliveries": rows,
        "newer": newer,
        "older": older,
        "breaker": breaker_text(partner),
        "parked": parked_text(partner),
    }
    return _render(request, "portal/deliveries.html", context)


def parked_text(partner):
    """How many of the partner's deliveries are parked, counted up to PARKED_SHOWN ("1000+" past it)."""
    parked = len(partner.deliveries.filter(state=State.PARKED).values_list("id", flat=True)[: PARKED_SHOWN + 1])
    return f"{PARKED_SHOWN}+" if parked > PARKED_SHOWN else (str(parked) if parked else "")


def breaker_text(partner):
    """The partner's circuit breaker as the partner should read it: sending, or paused until a probe."""
    health = getattr(partner, "health", None)
    if health is None or health.breaker == Breaker.CLOSED:
        return "closed: we are sending"
    text = f"{health.get_breaker_display()}, after {health.consecutive_failures} failures in a row"
    if health.breaker == Breaker.OPEN and health.probe_at:
        text += f"; the next try goes at {health.probe_at:%Y-%m-%d %H:%M:%S %Z}, the rest follow once it succeeds"
    return text


@partner_page
def delivery(request, partner, delivery_id):
    """A delivery's attempts, as stored (URL and headers masked when recorded), and its conversion's statuses."""
    found = get_object_or_404(partner.deliveries.select_related("event__conversion"), pk=delivery_id)
    found.event_label = event_name(found.event)
    found.amount_text = _amount_text(found)
    conversion = found.event.conversion
    context = {
        "partner": partner,
        "delivery": found,
        "conversion": conversion,
        "attempts": found.attempt_set.order_by("number"),
        "history": conversion.events.order_by("id"),
        "resendable": found.state in REPLAYABLE,
    }
    return _render(request, "portal/delivery.html", context)


@require_POST
@partner_page
def resend(request, partner, delivery_id):
    """Send a failed or cancelled delivery again, through the admin's redelivery path (never a succeeded one)."""
    found = get_object_or_404(partner.deliveries, pk=delivery_id)
    if found.state not in REPLAYABLE:
        messages.error(request, f"Only a failed or cancelled delivery can be sent again; this one is {found.state}.")
    elif not partner.sendable:
        messages.error(request, f"Nothing is sent to {partner} now ({partner.sending_state}): please ask us.")
    else:
        report = redeliver([found])
        if report.queued:
            messages.success(request, "Queued: it goes out again within a few seconds.")
        else:
            messages.error(request, f"Not queued: {report.not_queued[0][1]}.")
    return redirect("portal:delivery", partner_id=partner.pk, delivery_id=found.pk)


@partner_page
def partner_stats(request, partner):
    """Per day of a period (the last 30 days by default): what was delivered to the partner, and its money."""
    form = stats.PeriodForm(request.GET)
    days = stats.daily(partner, *form.period()) if form.is_valid() else []
    context = {"partner": partner, "form": form, "days": days, "total": stats.totals(days)}
    return _render(request, "portal/stats.html", context)
