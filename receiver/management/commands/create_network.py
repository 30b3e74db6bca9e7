"""manage.py create_network: add an offer network and print the postback URL to give it."""

import json

from django.core.management.base import BaseCommand, CommandError

from postbacks_project.cli import emit
from receiver import presets
from receiver.management.common import decimal_arg, pairs, save_valid
from receiver.models import Network


class Command(BaseCommand):
    help = "Create an offer network; prints its id, key and the postback URL to hand to the network."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--param", action="append", metavar="OURS=THEIRS", help="map our field to their parameter name"
        )
        parser.add_argument("--status", action="append", metavar="THEIRS=OURS", help="map their status value to ours")
        parser.add_argument("--allow-ip", action="append", metavar="CIDR", help="allow only these addresses")
        parser.add_argument(
            "--preset", metavar="SLUG", help="start from a known network's settings (manage.py network_presets)"
        )
        parser.add_argument("--secret", default="", help="the network's secret: the key of its signature recipe")
        parser.add_argument(
            "--signature",
            default="",
            metavar="JSON",
            help='its signature recipe, e.g. \'{"scheme": "fields", "algorithm": "md5", "template": '
            '"{trans_id}-{secret}", "in": "query:hash"}\' (empty, with --secret: X-Signature)',
        )
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--require-click", dest="require_click", action="store_true", default=False)
        group.add_argument("--no-require-click", dest="require_click", action="store_false")
        parser.add_argument(
            "--allow-reapproval",
            action="store_true",
            help="let the network approve a conversion it rejected or reversed before (off: those are final)",
        )
        parser.add_argument("--payout-scale", metavar="X", help="multiply payouts by this (0.01: cents)")
        parser.add_argument(
            "--default-currency", default="", type=str.upper, metavar="CUR", help="for payouts sent without one"
        )
        parser.add_argument("--decimal-comma", action="store_true", help="read 12,34 as 12.34")
        parser.add_argument(
            "--reversal",
            default="",
            metavar="JSON",
            help='how it names a reversal\'s original, e.g. \'{"flag": "is_chargeback", "original": "transaction_id", '
            '"strip": "r-"}\' (docs/network-integration.md, step 7)',
        )
        parser.add_argument("--test-flag", default="", metavar="PARAM", help="the parameter that marks a test (debug)")
        parser.add_argument(
            "--currency-points", action="store_true", help="the user's points are its virtual-currency amount"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        recipe, reversal = (_json_arg(opts[name], f"--{name}") for name in ("signature", "reversal"))
        network = Network(name=opts["name"], hmac_secret=opts["secret"])
        if opts["preset"]:
            try:
                presets.apply(network, opts["preset"])
            except presets.UnknownPreset as exc:
                raise CommandError(str(exc)) from None
        # What is given on the command line goes over the preset; a mapping is merged into the preset's.
        network.param_mapping = {**network.param_mapping, **pairs(opts["param"], "--param")}
        network.status_mapping = {**network.status_mapping, **pairs(opts["status"], "--status")}
        given = {
            "allowed_ips": "\n".join(opts["allow_ip"] or []),
            "signature": recipe,
            "require_known_click": opts["require_click"],
            "allow_reapproval": opts["allow_reapproval"],
            "default_currency": opts["default_currency"],
            "decimal_comma": opts["decimal_comma"],
            "reversal": reversal,
            "test_flag": opts["test_flag"],
            "currency_points": opts["currency_points"],
        }
        if opts["payout_scale"] is not None:
            given["payout_scale"] = decimal_arg(opts["payout_scale"], "--payout-scale", "0.01")
        for name, value in given.items():
            if value:
                setattr(network, name, value)
        network = save_valid(network)
        data = {"id": network.pk, "name": network.name, "key": network.key, "postback_url": network.postback_url()}
        emit(self, data, opts["json"])


def _json_arg(text, option):
    try:
        return json.loads(text) if text else {}
    except ValueError as exc:
        raise CommandError(f"{option} is not JSON: {exc}") from None
