"""manage.py invite_partner_user: give an email address access to a partner's portal and send the link."""

from django.core.management.base import BaseCommand, CommandError

from partners.models import Partner
from partners.portal.invitations import InvitationError, invite
from postbacks_project.cli import emit


def find_partner(ref):
    """A partner by slug, else by id."""
    partner = Partner.objects.filter(slug=ref).first()
    if partner is None and ref.isascii() and ref.isdigit():
        partner = Partner.objects.filter(pk=int(ref)).first()
    if partner is None:
        raise CommandError(f"no partner with slug or id {ref!r}")
    return partner


class Command(BaseCommand):
    help = "Make EMAIL a portal user of PARTNER (made if needed) and email it a one-time set-password link."

    def add_arguments(self, parser):
        parser.add_argument("partner", metavar="PARTNER", help="the partner's slug or id")
        parser.add_argument("email", metavar="EMAIL")
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        partner = find_partner(opts["partner"])
        try:
            invitation = invite(partner, opts["email"])
        except InvitationError as exc:
            raise CommandError(str(exc)) from None
        data = {
            "user_id": invitation.user.pk,
            "email": invitation.user.email,
            "partner_id": partner.pk,
            "partner": partner.name,
            "created_user": invitation.created_user,
            "created_membership": invitation.created_membership,
            "link_sent": True,
        }
        emit(self, data, opts["json"])
