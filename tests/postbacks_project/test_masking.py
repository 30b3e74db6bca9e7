"""Secrets never reach stored rows or logs in clear."""

import logging
import sys

import pytest

from postbacks_project.masking import MaskSecretsFilter, mask_headers, mask_query, mask_url


def test_secret_headers_are_masked_and_others_kept():
    headers = mask_headers([("Authorization", "Bearer abcdefgh123"), ("X-Api-Key", "k-123456789"), ("Accept", "*/*")])

    assert headers == {"authorization": "Bear…", "x-api-key": "k-12…", "accept": "*/*"}


@pytest.mark.parametrize(
    "name", ["X-Auth-Key", "X-Auth-Token", "X-Auth", "Partner-Key", "client_credentials", "key", "sig"]
)
def test_a_header_with_a_secret_part_in_its_name_is_masked(name):
    assert mask_headers([(name, "s3cret-value-123")]) == {name.lower(): "s3cr…"}


@pytest.mark.parametrize("name", ["Monkey", "Keyword", "X-Author", "X-Request-Id", "X-Signature", "webhook-signature"])
def test_a_header_without_a_secret_part_in_its_name_is_kept(name):
    assert mask_headers([(name, "visible-value-123")]) == {name.lower(): "visible-value-123"}


def test_url_userinfo_and_token_parameters_are_masked():
    masked = mask_url("https://user:pass@p.example/pb?click=1&token=abcdefghij&api_key=zzzzzzzzzz")

    assert masked == "https://…@p.example/pb?click=1&token=abcd%E2%80%A6&api_key=zzzz%E2%80%A6"


def test_a_query_without_secrets_is_kept_byte_for_byte():
    assert mask_query("a=1&b=%20x") == "a=1&b=%20x"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Not Found: /postback/abcdef0123456789/", "Not Found: /postback/abcd…/"),
        (
            '"GET /api/postback/?key=abcdef0123456789&click_id=1 HTTP/1.1"',
            '"GET /api/postback/?key=abcd…&click_id=1 HTTP/1.1"',
        ),
    ],
)
def test_the_log_filter_masks_postback_keys(message, expected):
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "%s", (message,), None)

    assert MaskSecretsFilter().filter(record) is True
    assert record.getMessage() == expected


def test_the_receiver_logs_why_storage_failed(client, network, caplog):
    from django.db import OperationalError, connection

    def fail(execute, sql, params, many, context):
        raise OperationalError("could not connect to server")

    with connection.execute_wrapper(fail):
        client.get(f"/postback/{network.key}/", {"click_id": "c1"})

    assert "receiver storage failed: OperationalError: could not connect to server" in caplog.text
    assert network.key not in caplog.text


def test_the_log_filter_masks_secret_parameters_of_any_url():
    line = 'http://p.example:80 "GET /pb?click=1&token=abcdefghijkl&sig=zzzzzzzzzz HTTP/1.1" 200 2'
    record = logging.LogRecord("urllib3.connectionpool", logging.DEBUG, __file__, 1, "%s", (line,), None)

    MaskSecretsFilter().filter(record)

    assert record.getMessage() == 'http://p.example:80 "GET /pb?click=1&token=abcd…&sig=zzzz… HTTP/1.1" 200 2'


def test_the_log_filter_masks_a_traceback_that_quotes_a_key():
    try:
        raise ValueError("cannot handle /postback/abcdef0123456789/?key=abcdef0123456789")
    except ValueError:
        record = logging.LogRecord("receiver", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())

    MaskSecretsFilter().filter(record)
    MaskSecretsFilter().filter(record)  # twice, as with two handlers: still readable

    text = logging.Formatter().format(record)
    assert "abcdef0123456789" not in text
    assert "cannot handle /postback/abcd…/?key=abcd…" in text
