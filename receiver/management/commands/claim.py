"""manage.py claim: record a user's claim of an offer by hand (support staff), exactly as the claim API does."""

from django.core.management.base import BaseCommand, CommandError

from postbacks_project.cli import emit
from receiver import claims
from receiver.inbound import from_command
from receiver.models import Offer
from receiver.params import InvalidInput, normalise_claim


class Command(BaseCommand):
    help = (
        "Claim an offer for a user with the network's click id: one approved conversion per click and goal, "
        "points credited, reported to the network's outgoing postback. A repeat answers duplicate."
    )

    def add_arguments(self, parser):
        parser.add_argument("--offer", type=int, required=True, metavar="ID", help="our offer id")
        parser.add_argument("--click-id", required=True, metavar="X", help="the network's click id")
        parser.add_argument("--user", required=True, metavar="U", help="the user whose points it credits")
        parser.add_argument("--goal", metavar="G", help="the goal reported (default: the offer's goal)")
        parser.add_argument("--payout", metavar="P", help="the payout (default: the offer's payout)")
        parser.add_argument("--type", dest="conversion_type", metavar="T", help="conversion type (default: install)")
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        offer = Offer.objects.select_related("network").filter(pk=opts["offer"]).first()
        if offer is None:
            raise CommandError(f"no offer with id {opts['offer']}")
        if not offer.is_active or not offer.network.is_active:
            raise CommandError(f"offer {offer.pk} or its network is not active")
        params = {
            "click_id": opts["click_id"],
            "user_id": opts["user"],
            "goal": opts["goal"],
            "payout": opts["payout"],
            "conversion_type": opts["conversion_type"],
        }
        inbound = from_command(f"manage.py claim --offer {offer.pk}", params)
        try:
            fields = normalise_claim({name: value for name, value in params.items() if value is not None})
        except InvalidInput as exc:
            raise CommandError(str(exc)) from None
        row, outcome, conversion = claims.record_claim(inbound, offer, fields)
        emit(self, claims.answer(row, outcome, conversion), opts["json"])
