"""manage.py create_partner: add a downstream partner with its URL template and terms."""

from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from partners.models import BodyType, Method, Partner, PointsMode, Scope, ShareType
from partners.signing import generate_secret
from postbacks_project.cli import emit
from receiver.management.common import decimal_arg, pairs, save_valid


class Command(BaseCommand):
    help = "Create a partner; prints its id, name and URL template (and a generated signing secret, once)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--url", required=True, metavar="TEMPLATE", help="postback URL with {macro} placeholders")
        parser.add_argument("--method", type=str.upper, choices=Method.values, default=Method.GET)
        parser.add_argument("--body", default="", metavar="TEMPLATE", help="POST body template")
        parser.add_argument("--content-type", choices=BodyType.values, default=BodyType.FORM)
        share = parser.add_mutually_exclusive_group()
        share.add_argument("--share-percent", metavar="P", help="the partner's share, percent of the payout")
        share.add_argument("--share-fixed", metavar="X", help="the partner's share, a fixed amount per conversion")
        points = parser.add_mutually_exclusive_group()
        points.add_argument("--points-rate", metavar="R", help="points per currency unit of the partner's share")
        points.add_argument("--points-fixed", metavar="N", help="fixed points per conversion")
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument("--signing-secret", default="", metavar="S", help="a Standard Webhooks whsec_ secret")
        secret.add_argument("--generate-secret", action="store_true", help="generate a secret and print it once")
        parser.add_argument(
            "--share-currency", default="", type=str.upper, metavar="CUR", help="the currency of a fixed share"
        )
        parser.add_argument(
            "--payout-places", type=int, metavar="N", help="decimal places of {payout} (default: the currency's)"
        )
        parser.add_argument(
            "--send-adjustments", action="store_true", help="also send payout changes under the same status"
        )
        parser.add_argument("--only-own-clicks", action="store_true", help="only conversions of clicks it sent")
        parser.add_argument("--slug", help="identifies its clicks: /click/<offer>/?partner=<slug>")
        parser.add_argument("--header", action="append", metavar="NAME=VALUE", help="an extra request header")
        parser.add_argument("--inactive", action="store_true", help="create it switched off")
        parser.add_argument(
            "--receives-tests", action="store_true", help="send it the networks' test conversions ({event} test)"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        if opts["only_own_clicks"] and not opts["slug"]:
            raise CommandError("--only-own-clicks needs --slug: clicks are matched to their partner by its slug")
        share_type, share_value = ShareType.PERCENT, Decimal(100)
        if opts["share_percent"] is not None:
            share_value = decimal_arg(opts["share_percent"], "--share-percent", "70")
        elif opts["share_fixed"] is not None:
            share_type, share_value = ShareType.FIXED, decimal_arg(opts["share_fixed"], "--share-fixed", "1.50")
        points_mode, points_value = PointsMode.RATE, Decimal(0)
        if opts["points_rate"] is not None:
            points_value = decimal_arg(opts["points_rate"], "--points-rate", "100")
        elif opts["points_fixed"] is not None:
            points_mode, points_value = PointsMode.FIXED, decimal_arg(opts["points_fixed"], "--points-fixed", "50")
        secret = generate_secret() if opts["generate_secret"] else opts["signing_secret"]
        partner = save_valid(
            Partner(
                name=opts["name"],
                slug=opts["slug"] or None,
                is_active=not opts["inactive"],
                receives_tests=opts["receives_tests"],
                postback_url=opts["url"],
                method=opts["method"],
                body_template=opts["body"],
                body_type=opts["content_type"],
                headers=pairs(opts["header"], "--header"),
                scope=Scope.OWN_CLICKS if opts["only_own_clicks"] else Scope.ALL,
                share_type=share_type,
                share_value=share_value,
                share_currency=opts["share_currency"],
                points_mode=points_mode,
                points_value=points_value,
                payout_places=opts["payout_places"],
                send_adjustments=opts["send_adjustments"],
                signing_secret=secret,
            )
        )
        data = {"id": partner.pk, "name": partner.name, "url": partner.postback_url}
        if opts["generate_secret"]:
            # Printed this once; it stays in the database for signing, and in the admin for whoever needs it.
            data["signing_secret"] = partner.signing_secret
        emit(self, data, opts["json"])
