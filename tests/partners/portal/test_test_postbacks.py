"""A partner user's test postbacks: chosen values through the test-postback service, the result followed live,
only for their own partners."""

from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from testing_tools import services
from testing_tools.models import TestPostback

URL = "https://pub.example/pb"


@pytest.fixture
def templated(partner):
    partner.postback_url = URL + "?s={status}&p={payout}&u={username}&o={offer_name}&pts={points}&e={event}"
    partner.save()
    return partner


def page_url(partner, *rest):
    return "/".join([f"/portal/partners/{partner.pk}/test", *map(str, rest)]) + "/"


VALUES = {"status": "pending", "payout": "3.25", "username": "zoe", "offer_name": "Quiz", "points": "40"}


@responses.activate
def test_it_sends_the_chosen_values_and_shows_the_answer(
    portal_client, templated, partner_user, django_capture_on_commit_callbacks
):
    responses.get(URL, body="got it")

    with django_capture_on_commit_callbacks(execute=True):
        response = portal_client.post(page_url(templated), VALUES, follow=True)

    assert response.status_code == 200
    (sent,) = responses.calls
    query = parse_qs(urlsplit(sent.request.url).query)
    assert query == {"s": ["pending"], "p": ["3.25"], "u": ["zoe"], "o": ["Quiz"], "pts": ["40"], "e": ["test"]}
    test = TestPostback.objects.get()
    assert test.created_by == partner_user
    state = portal_client.get(page_url(templated, test.batch, "state")).json()
    assert state["final"] is True
    (row,) = state["rows"]
    assert (row["state"], row["response_status"], row["response_body"]) == ("succeeded", 200, "got it")
    assert row["url"].startswith(URL + "?s=pending")


def test_the_page_polls_until_the_test_is_final(portal_client, templated, monkeypatch):
    monkeypatch.setattr("testing_tools.tasks.send_test_postback.apply_async", lambda *args, **kwargs: None)

    page = portal_client.post(page_url(templated), VALUES, follow=True).content.decode()

    test = TestPostback.objects.get()
    assert test.state == "scheduled"
    assert page_url(templated, test.batch, "state") in page
    assert "this page updates by itself" in page
    assert portal_client.get(page_url(templated, test.batch, "state")).json()["final"] is False


def test_bad_values_are_refused_and_nothing_is_sent(portal_client, templated):
    response = portal_client.post(page_url(templated), VALUES | {"payout": "-1"})

    assert response.status_code == 200
    assert "greater than or equal to 0" in response.content.decode()
    assert not TestPostback.objects.exists()


def test_another_partner_cannot_be_tested_nor_its_tests_read(portal_client, other_partner, partner, monkeypatch):
    monkeypatch.setattr("testing_tools.tasks.send_test_postback.apply_async", lambda *args, **kwargs: None)
    batch = services.schedule_batch(
        [VALUES | {"points": 0, "payout": None, "partner": other_partner, "delay_minutes": 0}]
    )

    assert portal_client.post(page_url(other_partner), VALUES).status_code == 404
    assert portal_client.get(page_url(other_partner)).status_code == 404
    for path in (page_url(other_partner, batch), page_url(partner, batch), page_url(partner, batch, "state")):
        assert portal_client.get(path).status_code == 404
    assert TestPostback.objects.count() == 1
