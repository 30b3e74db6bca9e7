"""manage.py create_offer: add an offer of a network and print its click URL."""

from django.core.management.base import BaseCommand

from postbacks_project.cli import emit
from receiver.management.common import decimal_arg, network_by_ref, save_valid
from receiver.models import Offer


class Command(BaseCommand):
    help = "Create an offer for a network; prints its id and the click URL users follow."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--network", required=True, metavar="KEY_OR_ID")
        parser.add_argument("--url", required=True, help="destination with {click_id}")
        parser.add_argument("--payout", default="0")
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        offer = save_valid(
            Offer(
                name=opts["name"],
                network=network_by_ref(opts["network"]),
                url=opts["url"],
                payout=decimal_arg(opts["payout"], "--payout", "1.50"),
                currency=opts["currency"],
            )
        )
        emit(self, {"id": offer.pk, "name": offer.name, "click_url": offer.click_url()}, opts["json"])
