"""manage.py network_presets: the networks a new network can start from, with what each sets and where it is from."""

from django.core.management.base import BaseCommand

from postbacks_project.cli import emit
from receiver.presets import SOURCES, all_presets


class Command(BaseCommand):
    help = "List the network presets (create_network --preset SLUG): slug, name, what it sets, its source and docs."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        rows = [
            {
                "slug": preset["slug"],
                "name": preset["name"],
                "sets": ", ".join(preset["settings"]),
                "source": preset["source"],
                "docs": preset["docs"],
                "description": preset["description"],
            }
            for preset in all_presets().values()
        ]
        emit(self, rows, opts["json"], columns=["slug", "name", "sets", "source", "docs"])
        if not opts["json"]:
            self.stdout.write("sources: " + "; ".join(f"{name}: {meaning}" for name, meaning in SOURCES.items()))
