"""The receiver's management commands: create_network, create_offer, postback_logs, seed_demo, ensure_admin."""

import json
import shlex
from decimal import Decimal
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from partners.models import Delivery, Partner, State
from receiver.models import Click, Conversion, Network, Offer, ReceivedPostback, generate_key

BASE = "https://hub.example"


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def run_json(*args):
    return json.loads(run(*args, "--json"))


def path_and_query(url):
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


# create_network


@override_settings(PUBLIC_BASE_URL=BASE)
def test_create_network_prints_id_name_key_and_the_absolute_postback_url_as_json(db):
    data = run_json("create_network", "Acme")

    network = Network.objects.get()
    assert data == {
        "id": network.pk,
        "name": "Acme",
        "key": network.key,
        "postback_url": f"{BASE}/postback/{network.key}/",
    }


@override_settings(PUBLIC_BASE_URL=BASE)
def test_create_network_prints_a_table_by_default(db):
    output = run("create_network", "Acme")

    network = Network.objects.get()
    lines = dict(line.split(None, 1) for line in output.splitlines())
    assert lines == {
        "id": str(network.pk),
        "name": "Acme",
        "key": network.key,
        "postback_url": f"{BASE}/postback/{network.key}/",
    }


def test_create_network_stores_defaults_without_options(db):
    run("create_network", "Acme")

    network = Network.objects.get()
    assert network.param_mapping == {}
    assert network.status_mapping == {}
    assert network.allowed_ips == ""
    assert network.hmac_secret == ""
    assert network.require_known_click is False
    assert network.is_active is True


def test_create_network_stores_param_and_status_mappings(db):
    run(
        "create_network",
        "Acme",
        "--param",
        "click_id=subid",
        "--param",
        "payout = sum",
        "--status",
        "1=approved",
        "--status",
        "2=pending",
    )

    network = Network.objects.get()
    assert network.param_mapping == {"click_id": "subid", "payout": "sum"}
    assert network.status_mapping == {"1": "approved", "2": "pending"}


def test_the_printed_postback_url_receives_postbacks_in_the_networks_own_names(client, db):
    # given
    data = run_json(
        "create_network", "Acme", "--param", "click_id=subid", "--param", "payout=sum", "--status", "2=pending"
    )
    # when
    response = client.get(urlsplit(data["postback_url"]).path, {"subid": "c-1", "sum": "3.20", "status": "2"})
    # then
    assert response.json()["success"] is True
    conversion = Conversion.objects.get()
    assert (conversion.click_id, conversion.payout, conversion.status) == ("c-1", Decimal("3.2"), "pending")


def test_create_network_stores_every_allowed_ip_range(db):
    run("create_network", "Acme", "--allow-ip", "203.0.113.0/24", "--allow-ip", "198.51.100.7")

    network = Network.objects.get()
    assert network.allowed_ips.split() == ["203.0.113.0/24", "198.51.100.7"]
    assert network.allows_ip("203.0.113.99")
    assert network.allows_ip("198.51.100.7")
    assert not network.allows_ip("198.51.100.8")


def test_create_network_stores_the_hmac_secret(db):
    run("create_network", "Acme", "--secret", "s3cret")

    assert Network.objects.get().hmac_secret == "s3cret"


@pytest.mark.parametrize(
    ("flags", "expected"), [([], False), (["--require-click"], True), (["--no-require-click"], False)]
)
def test_create_network_sets_require_known_click_from_the_flags(db, flags, expected):
    run("create_network", "Acme", *flags)

    assert Network.objects.get().require_known_click is expected


def test_create_network_refuses_both_require_click_flags(db):
    with pytest.raises(CommandError, match="not allowed with"):
        run("create_network", "Acme", "--require-click", "--no-require-click")

    assert not Network.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "nonsense"], "--param expects A=B, got 'nonsense'"),
        (["--param", "click_id="], "--param expects A=B, got 'click_id='"),
        (["--status", "=approved"], "--status expects A=B, got '=approved'"),
        (["--param", "colour=hue"], "param_mapping: Unknown field(s) colour; known: click_id"),
        (["--allow-ip", "10.0.0.0/33"], "allowed_ips: '10.0.0.0/33' is not an IP address or CIDR range"),
        (["--allow-ip", "not-an-ip"], "allowed_ips: 'not-an-ip' is not an IP address or CIDR range"),
        (["--status", "2=maybe"], "status_mapping: Unknown status(es) maybe; use approved, pending"),
    ],
)
def test_create_network_rejects_bad_input_with_a_clear_message_and_creates_nothing(db, args, message):
    with pytest.raises(CommandError) as excinfo:
        run("create_network", "Acme", *args)

    assert message in str(excinfo.value)
    assert not Network.objects.exists()


def test_create_network_rejects_a_name_that_is_taken(network):
    with pytest.raises(CommandError, match="name: Network with this Name already exists"):
        run("create_network", network.name)

    assert Network.objects.count() == 1


# create_offer


@override_settings(PUBLIC_BASE_URL=BASE)
@pytest.mark.parametrize("ref", ["key", "id"])
def test_create_offer_finds_the_network_by_key_or_id(network, ref):
    data = run_json(
        "create_offer",
        "Survey",
        f"--network={getattr(network, 'key' if ref == 'key' else 'pk')}",
        "--url",
        "https://acme.example/go?sub={click_id}",
        "--payout",
        "1.75",
        "--currency",
        "eur",
    )

    offer = Offer.objects.get()
    assert data == {"id": offer.pk, "name": "Survey", "click_url": f"{BASE}/click/{offer.pk}/"}
    assert offer.network == network
    assert offer.url == "https://acme.example/go?sub={click_id}"
    assert offer.payout == Decimal("1.75")
    assert offer.currency == "EUR"


def test_create_offer_prints_a_table_by_default(network):
    output = run("create_offer", "Survey", f"--network={network.key}", "--url", "https://acme.example/go?s={click_id}")

    offer = Offer.objects.get()
    lines = dict(line.split(None, 1) for line in output.splitlines())
    assert lines["id"] == str(offer.pk)
    assert lines["name"] == "Survey"
    assert lines["click_url"].endswith(f"/click/{offer.pk}/")


def test_create_offer_takes_the_network_as_a_separate_argument(network):
    network.key = "acme-key-1234567890"
    network.save()

    run("create_offer", "Survey", "--network", network.key, "--url", "https://acme.example/go?s={click_id}")

    assert Offer.objects.get().network == network


def test_generated_keys_never_start_with_a_dash_so_they_work_as_option_values():
    # a key starting with "-" would read as an option: "--network -abc" fails in argparse
    keys = [generate_key() for _ in range(500)]

    assert not any(key.startswith("-") for key in keys)


def test_the_printed_click_url_redirects_with_a_new_click(client, network):
    data = run_json(
        "create_offer", "Survey", f"--network={network.key}", "--url", "https://acme.example/go?s={click_id}"
    )

    response = client.get(urlsplit(data["click_url"]).path)

    click = Click.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"https://acme.example/go?s={click.click_id}"


def test_create_offer_defaults_to_no_payout_in_usd(network):
    run("create_offer", "Survey", f"--network={network.key}", "--url", "https://acme.example/go?s={click_id}")

    offer = Offer.objects.get()
    assert (offer.payout, offer.currency) == (Decimal("0"), "USD")


def test_it_rejects_an_offer_url_without_click_id(network):
    with pytest.raises(CommandError, match=r"url: The offer URL must contain \{click_id\}"):
        run("create_offer", "Survey", f"--network={network.key}", "--url", "https://acme.example/go?sub=x")

    assert not Offer.objects.exists()


def test_it_rejects_an_offer_for_an_unknown_network(db):
    with pytest.raises(CommandError, match="no network with id or key 'nope'"):
        run("create_offer", "Survey", "--network", "nope", "--url", "https://acme.example/go?s={click_id}")

    assert not Offer.objects.exists()


@pytest.mark.parametrize(
    ("payout", "message"),
    [
        ("abc", "--payout 'abc' is not a decimal number such as 1.50"),
        ("1,50", "--payout '1,50' is not a decimal number such as 1.50"),
        ("-1", "payout: Ensure this value is greater than or equal to 0"),
        ("1e20", "payout:"),
    ],
)
def test_it_rejects_a_bad_payout_and_creates_no_offer(network, payout, message):
    with pytest.raises(CommandError) as excinfo:
        run(
            "create_offer",
            "Survey",
            f"--network={network.key}",
            "--url",
            "https://acme.example/go?s={click_id}",
            "--payout",
            payout,
        )

    assert message in str(excinfo.value)
    assert not Offer.objects.exists()


@pytest.mark.parametrize("payout", ["NaN", "Infinity"])
def test_it_rejects_a_payout_that_is_not_a_finite_number(network, payout):
    with pytest.raises(CommandError, match="payout"):
        run(
            "create_offer",
            "Survey",
            f"--network={network.key}",
            "--url",
            "https://acme.example/go?s={click_id}",
            "--payout",
            payout,
        )

    assert not Offer.objects.exists()


def test_it_rejects_a_currency_that_is_not_three_letters(network):
    with pytest.raises(CommandError, match="currency:"):
        run(
            "create_offer",
            "Survey",
            f"--network={network.key}",
            "--url",
            "https://acme.example/go?s={click_id}",
            "--currency",
            "E1",
        )

    assert not Offer.objects.exists()


# postback_logs


@pytest.fixture
def sent(client, network, postback_url):
    """Three postbacks through the real receiver: accepted, duplicate, rejected; plus one for another network."""
    other = Network.objects.create(name="Other Network")
    client.get(postback_url, {"click_id": "c-1", "payout": "1.50", "status": "pending", "transaction_id": "t-1"})
    client.get(postback_url, {"click_id": "c-1", "payout": "1.50", "status": "pending", "transaction_id": "t-1"})
    client.get(postback_url, {"payout": "2"})
    client.get(f"/postback/{other.key}/", {"click_id": "o-1"})
    return list(ReceivedPostback.objects.order_by("id"))


def test_postback_logs_lists_newest_first_with_the_documented_json_keys(sent, network):
    data = run_json("postback_logs")

    assert [row["id"] for row in data] == [row.pk for row in reversed(sent)]
    assert list(data[-1]) == [
        "id",
        "received_at",
        "network",
        "method",
        "outcome",
        "reason",
        "click_id",
        "status",
        "payout",
    ]
    first = data[-1]
    assert first["received_at"] == sent[0].received_at.isoformat()
    assert (first["network"], first["method"], first["outcome"], first["reason"]) == (
        network.name,
        "GET",
        "accepted",
        "",
    )
    assert (first["click_id"], first["status"], first["payout"]) == ("c-1", "pending", "1.50")
    rejected = data[1]
    assert (rejected["outcome"], rejected["reason"], rejected["payout"]) == ("rejected", "missing_click_id", None)


def test_postback_logs_lists_rows_without_a_network(client, db):
    client.get("/postback/no-such-key/", {"click_id": "c-1"})

    (row,) = run_json("postback_logs")

    assert (row["network"], row["outcome"], row["reason"]) == (None, "rejected", "unknown_key")


def test_postback_logs_prints_a_table_by_default(sent):
    lines = run("postback_logs").splitlines()

    assert lines[0].split() == [
        "id",
        "received_at",
        "network",
        "method",
        "outcome",
        "reason",
        "click_id",
        "status",
        "payout",
    ]
    assert len(lines) == 1 + len(sent)
    assert lines[1].split()[0] == str(sent[-1].pk)


def test_postback_logs_says_so_when_there_is_nothing(db):
    assert run("postback_logs").strip() == "(nothing)"


def test_postback_logs_limits_to_the_newest_rows(sent):
    data = run_json("postback_logs", "--limit", "2")

    assert [row["id"] for row in data] == [sent[-1].pk, sent[-2].pk]


def test_postback_logs_rejects_a_limit_below_one(db):
    with pytest.raises(CommandError, match="--limit must be at least 1"):
        run("postback_logs", "--limit", "0")


@pytest.mark.parametrize("ref", ["key", "id"])
def test_postback_logs_filters_by_network_key_or_id(sent, network, ref):
    data = run_json("postback_logs", f"--network={getattr(network, 'key' if ref == 'key' else 'pk')}")

    assert [row["id"] for row in data] == [row.pk for row in reversed(sent[:3])]
    assert {row["network"] for row in data} == {network.name}


def test_postback_logs_rejects_an_unknown_network(db):
    with pytest.raises(CommandError, match="no network with id or key 'nope'"):
        run("postback_logs", "--network", "nope")


@pytest.mark.parametrize(("outcome", "indexes"), [("accepted", [3, 0]), ("duplicate", [1])])
def test_postback_logs_filters_by_outcome(sent, outcome, indexes):
    data = run_json("postback_logs", "--outcome", outcome)

    assert [row["id"] for row in data] == [sent[i].pk for i in indexes]


def test_postback_logs_filters_rejected_ones(sent):
    data = run_json("postback_logs", "--outcome", "rejected")

    assert [row["id"] for row in data] == [sent[2].pk]
    assert data[0]["reason"] == "missing_click_id"


def test_postback_logs_rejects_an_unknown_outcome(db):
    with pytest.raises(CommandError, match="invalid choice: 'lost'"):
        run("postback_logs", "--outcome", "lost")


# seed_demo


def test_seed_demo_creates_a_network_offer_click_and_partner(db):
    data = run_json("seed_demo")

    network = Network.objects.get()
    offer = Offer.objects.get()
    click = Click.objects.get()
    partner = Partner.objects.get()
    assert data["network"]["id"] == network.pk
    assert data["network"]["key"] == network.key
    assert data["network"]["postback_url"].endswith(f"/postback/{network.key}/")
    assert (data["offer"]["id"], offer.network) == (offer.pk, network)
    assert "{click_id}" in offer.url
    assert data["click"] == {"click_id": click.click_id, "user_id": "demo-user"}
    assert click.offer == offer
    assert data["partner"]["id"] == partner.pk


def test_seed_demo_is_idempotent(db):
    first = run_json("seed_demo")

    second = run_json("seed_demo")

    assert {**second, "try": None} == {**first, "try": None}
    assert Network.objects.count() == 1
    assert Offer.objects.count() == 1
    assert Click.objects.count() == 1
    assert Partner.objects.count() == 1


def test_the_curl_line_seed_demo_prints_is_accepted_by_the_receiver(client, db):
    # given
    output = run("seed_demo")
    curl = next(line.strip() for line in output.splitlines() if line.strip().startswith("curl "))
    _curl, url = shlex.split(curl)
    # when
    response = client.get(path_and_query(url))
    # then
    assert response.status_code == 200
    assert response.json()["success"] is True
    conversion = Conversion.objects.get()
    assert conversion.known_click == Click.objects.get()
    assert conversion.offer == Offer.objects.get()
    assert (conversion.status, conversion.payout, conversion.transaction_id) == ("approved", Decimal("1.5"), "demo-1")
    assert conversion.user_id == "demo-user"


def test_the_curl_line_still_works_after_seeding_twice(client, db):
    run("seed_demo")
    data = run_json("seed_demo")
    _curl, url = shlex.split(data["try"])

    response = client.get(path_and_query(url))

    assert response.json()["success"] is True
    assert ReceivedPostback.objects.get().outcome == "accepted"


def test_each_run_after_a_sent_curl_prints_a_new_conversion_not_a_duplicate(client, db):
    # given the first run's curl, sent
    client.get(path_and_query(shlex.split(run_json("seed_demo")["try"])[1]))
    # when seed_demo runs again and its curl is sent
    response = client.get(path_and_query(shlex.split(run_json("seed_demo")["try"])[1]))
    # then
    assert "duplicate" not in response.json()
    assert sorted(Conversion.objects.values_list("transaction_id", flat=True)) == ["demo-1", "demo-2"]


@override_settings(PUBLIC_BASE_URL="http://127.0.0.1:8300")
def test_seed_demo_prints_the_hubs_own_address_and_points_the_partner_at_its_demo_sink(db):
    Partner.objects.create(name="Demo Partner", postback_url="http://127.0.0.1:9999/postback?click={click_id}")

    data = run_json("seed_demo")

    assert data["hub"] == "http://127.0.0.1:8300"
    assert data["network"]["postback_url"].startswith("http://127.0.0.1:8300/postback/")
    assert data["try"].startswith("curl 'http://127.0.0.1:8300/postback/")
    assert Partner.objects.get().postback_url == "http://127.0.0.1:8300/demo/sink/?click={click_id}&amount={payout}"


@override_settings(OUTBOUND_ALLOW_LOOPBACK=False)
def test_seed_demo_says_that_the_demo_partner_needs_loopback_allowed(db):
    assert "OUTBOUND_ALLOW_LOOPBACK=true" in run("seed_demo")


def test_the_first_forward_of_the_quickstart_succeeds(live_server, client, settings):
    # given a hub on the live server that may reach loopback, as the quickstart starts it, seeded by seed_demo
    settings.PUBLIC_BASE_URL = live_server.url
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    _curl, url = shlex.split(run_json("seed_demo")["try"])
    # when the printed curl is sent (the delivery runs in-process, after the receiver's commit)
    response = client.get(path_and_query(url))
    # then the demo partner, the hub's own sink, took it
    assert response.json()["success"] is True
    delivery = Delivery.objects.get()
    assert (delivery.destination.name, delivery.state) == ("Demo Partner", State.SUCCEEDED)
    attempt = delivery.attempt_set.get()
    assert attempt.response_status == 200
    received = json.loads(attempt.response_body)
    assert (received["method"], received["query"]["click"]) == ("GET", Click.objects.get().click_id)


# ensure_admin


def test_ensure_admin_creates_a_superuser_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("ADMIN_USER", "boss")
    monkeypatch.setenv("ADMIN_PASSWORD", "a long passphrase")

    output = run("ensure_admin")

    user = get_user_model().objects.get()
    assert user.username == "boss"
    assert user.is_staff
    assert user.is_superuser
    assert user.check_password("a long passphrase")
    assert "created" in output


def test_ensure_admin_updates_the_password_of_an_existing_user(db, monkeypatch, django_user_model):
    django_user_model.objects.create_user(username="boss", password="old password")
    monkeypatch.setenv("ADMIN_USER", "boss")
    monkeypatch.setenv("ADMIN_PASSWORD", "new password")

    output = run("ensure_admin")

    user = django_user_model.objects.get()
    assert user.check_password("new password")
    assert user.is_superuser
    assert "updated" in output


@pytest.mark.parametrize("present", [{}, {"ADMIN_USER": "boss"}, {"ADMIN_PASSWORD": "a long passphrase"}])
def test_ensure_admin_creates_no_user_unless_both_variables_are_set(db, monkeypatch, django_user_model, present):
    monkeypatch.delenv("ADMIN_USER", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    for name, value in present.items():
        monkeypatch.setenv(name, value)

    run("ensure_admin")

    assert not django_user_model.objects.exists()


def test_ensure_admin_says_how_to_make_an_admin_when_the_variables_are_unset(db, monkeypatch):
    monkeypatch.delenv("ADMIN_USER", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)

    output = run("ensure_admin")

    assert "createsuperuser" in output or "ADMIN_USER" in output
