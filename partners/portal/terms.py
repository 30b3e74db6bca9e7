"""What a partner user sees of the settings they may not change, and the macro reference with example values."""

from django.conf import settings
from django.utils import timezone

from partners.macros import sample_values
from partners.models import ShareType
from partners.templating import CUSTOM_PREFIX, MACROS
from postbacks_project.cli import money_text

SAMPLE_CUSTOM_KEY = "survey_id"


def _share_text(terms, basis):
    if terms.share_type == ShareType.FIXED:
        return f"{money_text(terms.share_value)} {terms.share_currency or settings.HOUSE_CURRENCY} per conversion"
    return f"{terms.share_value.normalize():f}% of {basis}"


def _signing_text(partner):
    if not partner.signing_secret:
        return "not signed"
    text = "Standard Webhooks headers on every request"
    if partner.secrets_at(timezone.now())[1:]:
        text += f"; the previous secret also signs until {partner.previous_secret_until:%Y-%m-%d %H:%M %Z}"
    return text


def read_only_terms(partner):
    """[(label, text)]: the share, scope, filters and points, as the hub set them. Never a secret's value."""
    basis = partner.get_payout_basis_display()
    rows = [
        ("sending", partner.sending_state + (f": {partner.disabled_reason}" if partner.disabled_reason else "")),
        ("share", _share_text(partner, basis)),
        *(
            (f"share on {share.offer.name}", _share_text(share, basis))
            for share in partner.offer_shares.select_related("offer").order_by("offer__name")
        ),
        ("payout decimals", "the currency's" if partner.payout_places is None else str(partner.payout_places)),
        ("payout changes", "sent as adjustments" if partner.send_adjustments else "not sent"),
        ("points", f"{partner.points_value.normalize():f} {partner.get_points_mode_display()}"),
        ("scope", partner.get_scope_display()),
        ("networks", ", ".join(n.name for n in partner.networks.order_by("name")) or "all"),
        ("offers", ", ".join(o.name for o in partner.offers.order_by("name")) or "all"),
        ("statuses", ", ".join(partner.statuses) or "all"),
        ("minimum payout", "none" if partner.min_payout is None else money_text(partner.min_payout)),
        ("test conversions", "sent" if partner.receives_tests else "not sent"),
        ("extra headers", ", ".join(sorted(partner.headers)) or "none"),
        ("signing", _signing_text(partner)),
    ]
    return rows


def macro_reference(partner):
    """[(placeholder, what it is, example value)] for every macro, examples from the same sample as the preview."""
    values = sample_values(partner)
    rows = [("{" + name + "}", text, str(values.get(name, ""))) for name, text in MACROS.items()]
    example = values["custom"].get(SAMPLE_CUSTOM_KEY, "")
    rows.append(
        (
            "{" + CUSTOM_PREFIX + "KEY}",
            f"a value the network sent that has no macro of its own, e.g. {{custom.{SAMPLE_CUSTOM_KEY}}}",
            example,
        )
    )
    return rows
