"""A partner is checked when it is saved: templates, body, headers, terms and secret."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from partners.models import BodyType, Method, Partner, ShareType
from partners.signing import generate_secret


def errors_of(**fields):
    partner = Partner(name="P", **{"postback_url": "https://p.example/pb?c={click_id}", **fields})
    try:
        partner.full_clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


def test_a_plain_partner_is_valid(db):
    assert errors_of() == {}


def test_an_unknown_macro_is_an_error_listing_the_known_ones(db):
    errors = errors_of(postback_url="https://p.example/pb?c={clickid}")

    assert "unknown macro {clickid}" in errors["postback_url"][0]
    assert "{click_id}" in errors["postback_url"][0]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://p.example/{click_id}", "not a valid http(s) URL"),
        ("p.example/pb", "not a valid http(s) URL"),
        ("https://{network}.example/pb", "host"),
        ("https://p.example/pb?c={click_id", "not closed"),
    ],
)
def test_a_malformed_url_template_says_why(db, url, problem):
    assert problem in errors_of(postback_url=url)["postback_url"][0]


def test_a_json_body_must_render_to_json(db):
    errors = errors_of(method=Method.POST, body_type=BodyType.JSON, body_template='{"c": "{click_id}",}')

    assert "not valid JSON" in errors["body_template"][0]


def test_a_json_body_with_macros_in_strings_and_numbers_is_valid(db):
    assert (
        errors_of(method=Method.POST, body_type=BodyType.JSON, body_template='{"c": "{click_id}", "p": {payout}}') == {}
    )


def test_a_body_with_get_is_an_error(db):
    assert "needs the POST method" in errors_of(body_template="c={click_id}")["body_template"][0]


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"X Bad": "v"}, "without spaces"),
        ({"X-Token": "a\r\nInjected: 1"}, "line break"),
        ({"X-Token": "ünicode✓"}, "latin-1"),
        ({"X-Token": 5}, "text value"),
        (["X-Token"], "must be an object"),
    ],
)
def test_bad_headers_are_refused(db, headers, problem):
    assert problem in errors_of(headers=headers)["headers"][0]


def test_statuses_must_be_ours(db):
    assert "statuses must be a list" in errors_of(statuses=["approved", "paid"])["statuses"][0]


def test_a_percentage_over_100_is_refused(db):
    assert "between 0 and 100" in errors_of(share_type=ShareType.PERCENT, share_value=Decimal("101"))["share_value"][0]


def test_a_negative_share_is_refused(db):
    assert "share_value" in errors_of(share_type=ShareType.FIXED, share_value=Decimal("-1"))


def test_a_generated_signing_secret_is_accepted_and_a_bad_one_is_not(db):
    assert errors_of(signing_secret=generate_secret()) == {}
    assert "whsec_" in errors_of(signing_secret="hunter2")["signing_secret"][0]


def test_own_clicks_only_needs_a_slug(db):
    assert "needs a slug" in errors_of(scope="own_clicks")["slug"][0]
    assert errors_of(scope="own_clicks", slug="pub-1") == {}


def test_a_url_signature_is_accepted_as_a_whole_query_value_with_a_secret(db):
    url = "https://p.example/pb?c={click_id}&ts={signature_ts}&sig={signature}"

    assert errors_of(postback_url=url, signing_secret=generate_secret()) == {}


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://p.example/pb?c={click_id}&sig={signatur}", "unknown macro {signatur}"),
        ("https://p.example/pb/{signature}?c={click_id}", "whole value of a query parameter"),
        ("https://p.example/pb?sig=v1-{signature}", "whole value of a query parameter"),
        ("https://p.example/pb?a={signature}&b={signature}", "whole value of a query parameter"),
        ("https://p.example/pb?sig={signature}&sig={click_id}", "appears twice"),
    ],
)
def test_a_misplaced_or_mistyped_url_signature_is_refused(db, url, problem):
    errors = errors_of(postback_url=url, signing_secret=generate_secret())

    assert problem in errors["postback_url"][0]


def test_a_url_signature_needs_a_signing_secret(db):
    errors = errors_of(postback_url="https://p.example/pb?c={click_id}&sig={signature}")

    assert "needs a signing secret" in errors["postback_url"][0]


def test_a_body_cannot_carry_the_url_signature(db):
    errors = errors_of(
        method=Method.POST,
        body_type=BodyType.FORM,
        body_template="c={click_id}&sig={signature}",
        signing_secret=generate_secret(),
    )

    assert "signs the URL" in errors["body_template"][0]
