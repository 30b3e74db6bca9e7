"""An event whose request row is gone (the link has no database constraint): the pages and the API still show it."""

import pytest
from django.urls import reverse

from receiver.models import ConversionEvent, ReceivedPostback


@pytest.fixture
def orphan(client, network):
    answer = client.get(f"/postback/{network.key}/", {"click_id": "c1", "payout": "2.00"})
    assert answer.json()["success"], answer.content
    event = ConversionEvent.objects.get()
    # Removed behind retention's back: nothing in the database stops it, since the link has no constraint.
    ReceivedPostback.objects.filter(pk=event.postback_id)._raw_delete("default")
    return event


def test_the_link_has_no_constraint_in_the_database():
    assert not ConversionEvent._meta.get_field("postback").db_constraint


def test_the_conversion_page_lists_the_event_without_its_request(orphan, admin_client):
    page = admin_client.get(reverse("admin:receiver_conversion_change", args=[orphan.conversion_id]))

    assert page.status_code == 200
    assert "Events without a stored request" in page.content.decode()


def test_the_event_page_and_list_show_it(orphan, admin_client):
    assert admin_client.get(reverse("admin:receiver_conversionevent_change", args=[orphan.pk])).status_code == 200
    assert admin_client.get(reverse("admin:receiver_conversionevent_changelist")).status_code == 200


def test_the_api_gives_the_conversion_with_its_event(orphan, token_client):
    answer = token_client.get(f"/api/v1/conversions/{orphan.conversion_id}")

    assert answer.status_code == 200, answer.content
    assert [event["id"] for event in answer.json()["events"]] == [orphan.pk]
