"""One time format on every admin page: YYYY-MM-DD HH:MM:SS and the zone, in TIME_ZONE."""

import json
import re
from datetime import UTC, datetime

from django.test import override_settings

from partners.models import Partner

AT = datetime(2026, 3, 1, 12, 5, 9, tzinfo=UTC)


def test_admin_lists_show_seconds_and_the_zone(admin_client):
    Partner.objects.create(name="Wall", postback_url="https://w.example/", created_at=AT)

    html = admin_client.get("/admin/partners/partner/").content.decode()

    assert "2026-03-01 12:05:09 UTC" in html


@override_settings(TIME_ZONE="Europe/Berlin")
def test_times_are_shown_in_the_time_zone_setting_and_name_it(admin_client):
    partner = Partner.objects.create(name="Wall", postback_url="https://w.example/", created_at=AT)

    html = admin_client.get(f"/admin/partners/partner/{partner.pk}/change/").content.decode()

    assert "2026-03-01 13:05:09 CET" in html


def test_the_dashboard_uses_the_same_format(admin_client):
    Partner.objects.create(name="Wall", postback_url="https://w.example/", failing_since=AT)

    html = admin_client.get("/admin/stats/").content.decode()

    assert "failing since 2026-03-01 12:05:09 UTC" in html


def test_the_test_postback_log_formats_times_in_the_servers_zone_not_the_browsers(admin_client):
    html = admin_client.get("/admin/test-postback/").content.decode()

    config = json.loads(re.search(r'<script id="tp-config" type="application/json">(.*?)</script>', html).group(1))
    assert config["timeZone"] == "UTC"
