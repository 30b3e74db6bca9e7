"""manage.py seed_demo: a demo network, offer, click and partner, and the curl that completes the loop."""

from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand
from django.urls import reverse

from partners.models import Partner
from postbacks_project.cli import emit
from receiver.models import Click, Network, Offer

LOOPBACK_NOTE = (
    "The demo partner is this hub's own demo sink on loopback: start the hub with OUTBOUND_ALLOW_LOOPBACK=true "
    "(local development only), or its deliveries are refused as a blocked address."
)


def next_transaction_id(network):
    """demo-1, demo-2, ...: the first the demo network has not received, so each run's curl is a new conversion."""
    n = network.conversions.filter(transaction_id__startswith="demo-").count() + 1
    while network.conversions.filter(transaction_id=f"demo-{n}").exists():
        n += 1
    return f"demo-{n}"


class Command(BaseCommand):
    help = "Create (or reuse) demo data for a first look; safe to run twice, each run prints a new conversion's curl."

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
        # The hub's address of this run (PUBLIC_BASE_URL, from PORT): a demo partner seeded under another port, or
        # by an older seed_demo that pointed at a port where nothing listened, is pointed at the sink again.
        sink = settings.PUBLIC_BASE_URL + reverse("demo-sink")
        partner, _ = Partner.objects.update_or_create(
            name="Demo Partner", defaults={"postback_url": f"{sink}?click={{click_id}}&amount={{payout}}"}
        )
        url = network.postback_url()
        query = f"click_id={click.click_id}&payout=1.50&status=approved&transaction_id={next_transaction_id(network)}"
        data = {
            "hub": settings.PUBLIC_BASE_URL,
            "network": {"id": network.pk, "name": network.name, "key": network.key, "postback_url": url},
            "offer": {"id": offer.pk, "name": offer.name, "click_url": offer.click_url()},
            "click": {"click_id": click.click_id, "user_id": click.user_id},
            "partner": {"id": partner.pk, "name": partner.name, "url": partner.postback_url},
            "try": f"curl '{url}?{query}'",
            "warnings": [] if settings.OUTBOUND_ALLOW_LOOPBACK else [LOOPBACK_NOTE],
        }
        if opts["json"]:
            emit(self, data, True)
            return
        self.stdout.write(f"hub: {data['hub']} (PUBLIC_BASE_URL; give seed_demo the PORT that make run has)")
        for section in ("network", "offer", "click", "partner"):
            self.stdout.write(self.style.MIGRATE_HEADING(section))
            for name, value in data[section].items():
                self.stdout.write(f"  {name}: {value}")
        self.stdout.write(self.style.MIGRATE_HEADING("send a postback"))
        self.stdout.write(f"  {data['try']}")
        self.stdout.write("  then: .venv/bin/python manage.py partner_logs   (the demo partner's delivery)")
        for warning in data["warnings"]:
            self.stdout.write(self.style.WARNING(warning))
