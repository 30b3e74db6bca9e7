"""The one renderer: single pass, escaped for where each value lands, strict about unknown macros."""

import json

import pytest

from partners.templating import TemplateError, check, render

VALUES = {"click_id": "a&b c#d/é", "payout": "1.50", "custom": {"sub": "x y", "nested": {"k": 1}}}


@pytest.mark.parametrize(
    ("value", "encoded"),
    [("a&b", "a%26b"), ("a b", "a%20b"), ("a#b", "a%23b"), ("é", "%C3%A9"), ("a/b?c=d", "a%2Fb%3Fc%3Dd")],
)
def test_url_values_are_percent_encoded(value, encoded):
    assert render("https://p.example/pb?c={click_id}", {"click_id": value}) == f"https://p.example/pb?c={encoded}"


@pytest.mark.parametrize(("value", "encoded"), [("..", "%2E%2E"), (".", "%2E"), ("v1.2", "v1%2E2")])
def test_dots_in_a_url_path_value_are_percent_encoded_and_in_the_query_left_as_they_are(value, encoded):
    template = "https://p.example/pb/{custom.p}/x?p={custom.p}#{custom.p}"

    rendered = render(template, {"custom": {"p": value}})

    assert rendered == f"https://p.example/pb/{encoded}/x?p={value}#{value}"


def test_form_values_are_form_encoded():
    assert render("c={click_id}&p={payout}", VALUES, "form") == "c=a%26b+c%23d%2F%C3%A9&p=1.50"


def test_json_values_are_escaped_inside_strings():
    body = render('{"c": "{click_id}", "q": "{custom.sub}"}', VALUES | {"click_id": 'say "hi"\n'}, "json")

    assert json.loads(body) == {"c": 'say "hi"\n', "q": "x y"}


def test_a_json_body_template_keeps_its_own_braces():
    template = '{"event": {"click": "{click_id}", "amount": {payout}}}'

    assert json.loads(render(template, VALUES, "json")) == {"event": {"click": "a&b c#d/é", "amount": 1.5}}


def test_values_are_never_expanded_twice():
    assert render("x={click_id}", {"click_id": "{payout}", "payout": "9"}, "raw") == "x={payout}"


def test_custom_data_is_reachable_by_key():
    assert render("{custom.sub}|{custom.nested}|{custom.missing}", VALUES, "raw") == 'x y|{"k": 1}|'


def test_a_missing_value_renders_empty():
    assert render("u={user_id}", {}, "raw") == "u="


def test_check_names_the_unknown_macro_and_lists_the_known_ones():
    with pytest.raises(TemplateError) as error:
        check("https://p.example/?c={clickid}&x={nope}")

    message = str(error.value)
    assert "{clickid}, {nope}" in message
    assert "{click_id}" in message
    assert "{custom.KEY}" in message


def test_check_rejects_an_unclosed_macro():
    with pytest.raises(TemplateError, match="not closed"):
        check("https://p.example/?c={click_id&p=1")


@pytest.mark.parametrize(
    "template", ['{"a": {"b": [1, 2]}}', "https://p.example/?c={click_id}", "{custom.any_key}", "{ not a macro }", "{}"]
)
def test_check_accepts_literal_braces_and_known_macros(template):
    check(template)
