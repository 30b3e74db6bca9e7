"""manage.py seed_demo: a demo network, offer, click and partner, and the curl that completes the loop."""

from decimal import Decimal

from django.core.management.base import BaseCommand

from partners.models import Partner
from postbacks_project.cli import emit
from receiver.models import Click, Network, Offer


class Command(BaseCommand):
    help = "Create (or reuse) demo data for a first look; safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        network, _ = Network.objects.get_or_create(name="Demo Network")
        offer, _ = Offer.objects.get_or_create(
            network=network,
            name="Demo Offer",
            defaults={
                "url": "https://network.example/offer?aff_sub={click_id}",
                "payout": Decimal("1.50"),
                "currency": "USD",
            },
        )
        click, _ = Click.objects.get_or_create(offer=offer, user_id="demo-user", defaults={"sub1": "demo"})
        partner, _ = Partner.objects.get_or_create(
            name="Demo Partner",
            defaults={"postback_url": "http://127.0.0.1:9999/postback?click={click_id}&amount={payout}"},
        )
        url = network.postback_url()
        data = {
            "network": {"id": network.pk, "name": network.name, "key": network.key, "postback_url": url},
            "offer": {"id": offer.pk, "name": offer.name, "click_url": offer.click_url()},
            "click": {"click_id": click.click_id, "user_id": click.user_id},
            "partner": {"id": partner.pk, "name": partner.name, "url": partner.postback_url},
            "try": f"curl '{url}?click_id={click.click_id}&payout=1.50&status=approved&transaction_id=demo-1'",
        }
        if opts["json"]:
            emit(self, data, True)
            return
        for section in ("network", "offer", "click", "partner"):
            self.stdout.write(self.style.MIGRATE_HEADING(section))
            for name, value in data[section].items():
                self.stdout.write(f"  {name}: {value}")
        self.stdout.write(self.style.MIGRATE_HEADING("send a postback"))
        self.stdout.write(f"  {data['try']}")
