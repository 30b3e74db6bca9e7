"""The admin as ops console: every receiver model and partners render, logs are read-only, keys rotate, a network's
secret is write-only."""

import json
import re

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from partners.models import Partner
from receiver.models import (
    Click,
    Conversion,
    ConversionEvent,
    Network,
    NetworkClick,
    Offer,
    PointsEntry,
    ReceivedPostback,
)

MODELS = [Network, Offer, Click, ReceivedPostback, Conversion, ConversionEvent, Partner]
READ_ONLY = [Click, ReceivedPostback, Conversion, ConversionEvent]


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def data(client, network, offer, click, postback_url):
    """Rows of every kind, made the way production makes them: through the receiver."""
    client.get(postback_url, {"click_id": click.click_id, "transaction_id": "t-1", "status": "pending", "payout": "2"})
    client.post(
        postback_url,
        json.dumps({"click_id": click.click_id, "transaction_id": "t-1", "status": "approved"}),
        content_type="application/json",
    )
    client.get(postback_url, {"payout": "1"})
    Partner.objects.create(name="Offerwall", postback_url="https://wall.example/pb?c={click_id}")
    assert ConversionEvent.objects.count() == 2
    return {"network": network, "offer": offer, "click": click, "conversion": Conversion.objects.get()}


def results(response):
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_changelist_renders_with_its_rows(admin_client, data, model):
    response = admin_client.get(admin_url(model, "changelist"))

    assert response.status_code == 200
    assert results(response) == list(model.objects.all())
    assert results(response)


@pytest.mark.parametrize(
    ("model", "written"),
    [(Offer, "2.50"), (ReceivedPostback, "2.00"), (Conversion, "2.00"), (ConversionEvent, "2.00")],
    ids=lambda m: getattr(m, "__name__", m),
)
def test_a_lists_decimals_read_as_money_not_at_six_places(admin_client, data, model, written):
    page = admin_client.get(admin_url(model, "changelist")).content.decode()

    assert re.search(rf'<td class="field-payout">{re.escape(written)}</td>', page), "no payout cell as written"
    assert ".000000<" not in page
    assert re.search(r"<th [^>]*class=\"sortable column-payout", page)  # still sorted by the column


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_change_page_renders(admin_client, data, model):
    for obj in model.objects.all():
        response = admin_client.get(admin_url(model, "change", obj.pk))

        assert response.status_code == 200
        assert response.context["original"] == obj


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_filter_choice_of_every_changelist_renders(admin_client, client, data, model):
    # given a second network with its own traffic, so that every filter has a choice to offer
    other = Network.objects.create(name="Other Network", is_active=False, require_known_click=True)
    Click.objects.create(offer=Offer.objects.create(network=other, name="Quiz", url="https://o.example/{click_id}"))
    client.get(f"/postback/{data['network'].key}/", {"click_id": "c-2", "currency": "EUR", "status": "test"})
    url = admin_url(model, "changelist")
    changelist = admin_client.get(url).context["cl"]
    assert len(changelist.filter_specs) == len(changelist.list_filter)

    for spec in changelist.filter_specs:
        for choice in spec.choices(changelist):
            response = admin_client.get(url + choice["query_string"])

            # A filter Django cannot apply redirects to ?e=1 instead of answering 200.
            assert response.status_code == 200, (spec.title, choice["query_string"])


def test_the_date_hierarchy_filters_by_year(admin_client, data):
    year = data["conversion"].created_at.year
    url = admin_url(Conversion, "changelist")

    assert results(admin_client.get(url, {"created_at__year": year})) == [data["conversion"]]
    assert results(admin_client.get(url, {"created_at__year": year - 1})) == []


def test_received_postbacks_filter_by_outcome_and_reason(admin_client, data):
    url = admin_url(ReceivedPostback, "changelist")

    rejected = results(admin_client.get(url, {"outcome__exact": "rejected"}))
    changed = results(admin_client.get(url, {"outcome__exact": "status_change"}))
    missing = results(admin_client.get(url, {"reason": "missing_click_id"}))

    assert [row.reason for row in rejected] == ["missing_click_id"]
    assert [row.status for row in changed] == ["approved"]
    assert missing == rejected


def test_the_reason_filter_offers_the_reasons_refused_input_is_stored_with(admin_client, client, data):
    url = f"/postback/{data['network'].key}/"
    client.get(url, {"payout": "1"})
    client.get(url, {"click_id": "c-9", "payout": "$2"})
    client.get(url, {"click_id": "c-9", "status": "maybe"})
    client.get(url, {"click_id": "c-9", "currency": "dollars"})
    client.post(url, "{", content_type="application/json")

    stored = set(ReceivedPostback.objects.exclude(reason="").values_list("reason", flat=True))
    page = admin_client.get(admin_url(ReceivedPostback, "changelist")).content.decode()

    assert {"missing_click_id", "invalid_payout", "invalid_status", "invalid_currency", "invalid_json"} <= stored
    assert [reason for reason in stored if f'href="?reason={reason}"' not in page] == []


def test_conversions_filter_by_network_and_status(admin_client, data):
    url = admin_url(Conversion, "changelist")
    other = Network.objects.create(name="Other")

    assert results(admin_client.get(url, {"network__id__exact": data["network"].pk})) == [data["conversion"]]
    assert results(admin_client.get(url, {"network__id__exact": other.pk})) == []
    assert results(admin_client.get(url, {"status__exact": "approved"})) == [data["conversion"]]
    assert results(admin_client.get(url, {"status__exact": "pending"})) == []


def test_clicks_filter_by_the_offers_network(admin_client, data):
    url = admin_url(Click, "changelist")
    other = Network.objects.create(name="Other")

    assert results(admin_client.get(url, {"offer__network__id__exact": data["network"].pk})) == [data["click"]]
    assert results(admin_client.get(url, {"offer__network__id__exact": other.pk})) == []


def test_networks_filter_by_active(admin_client, data):
    url = admin_url(Network, "changelist")
    inactive = Network.objects.create(name="Sleeping", is_active=False)

    assert results(admin_client.get(url, {"is_active__exact": "0"})) == [inactive]
    assert results(admin_client.get(url, {"is_active__exact": "1"})) == [data["network"]]


def test_conversion_events_filter_by_kind(admin_client, data):
    url = admin_url(ConversionEvent, "changelist")

    (created,) = results(admin_client.get(url, {"kind__exact": "created"}))
    (changed,) = results(admin_client.get(url, {"kind__exact": "status_change"}))

    assert (created.from_status, created.to_status) == ("", "pending")
    assert (changed.from_status, changed.to_status) == ("pending", "approved")


@pytest.mark.parametrize(
    ("model", "query", "expected"),
    [
        (Network, "Acme", lambda d: [d["network"]]),
        (Offer, "Daily", lambda d: [d["offer"]]),
        (Offer, "acme.example", lambda d: [d["offer"]]),
        (Click, "alice", lambda d: [d["click"]]),
        (Conversion, "t-1", lambda d: [d["conversion"]]),
        (ConversionEvent, "t-1", lambda d: list(ConversionEvent.objects.all())),
        (Partner, "wall.example", lambda d: list(Partner.objects.all())),
    ],
)
def test_search_finds_the_matching_rows(admin_client, data, model, query, expected):
    url = admin_url(model, "changelist")

    assert results(admin_client.get(url, {"q": query})) == expected(data)
    assert results(admin_client.get(url, {"q": "no-such-thing-anywhere"})) == []


def test_received_postbacks_are_searchable_by_click_id(admin_client, data):
    url = admin_url(ReceivedPostback, "changelist")

    found = results(admin_client.get(url, {"q": data["click"].click_id}))

    assert [row.outcome for row in found] == ["status_change", "accepted"]


def test_a_received_postbacks_page_shows_its_body(admin_client, data):
    row = ReceivedPostback.objects.get(method="POST")

    response = admin_client.get(admin_url(ReceivedPostback, "change", row.pk))

    assert response.status_code == 200
    assert "&quot;status&quot;: &quot;approved&quot;" in response.content.decode()


@override_settings(PUBLIC_BASE_URL="https://hub.example")
def test_a_networks_page_shows_the_postback_url_to_give_the_network(admin_client, data):
    network = data["network"]

    response = admin_client.get(admin_url(Network, "change", network.pk))

    assert f"https://hub.example/postback/{network.key}/" in response.content.decode()


@override_settings(PUBLIC_BASE_URL="https://hub.example")
def test_an_offers_page_shows_its_click_url(admin_client, data):
    offer = data["offer"]

    response = admin_client.get(admin_url(Offer, "change", offer.pk))

    assert f"https://hub.example/click/{offer.pk}/" in response.content.decode()


@pytest.mark.parametrize("model", [Network, Offer, Partner], ids=lambda m: m.__name__)
def test_the_add_page_of_editable_models_renders(admin_client, db, model):
    assert admin_client.get(admin_url(model, "add")).status_code == 200


def test_a_conversions_page_lists_its_events(admin_client, data):
    response = admin_client.get(admin_url(Conversion, "change", data["conversion"].pk))

    (formset,) = response.context["inline_admin_formsets"]
    assert {form.original for form in formset} == set(ConversionEvent.objects.all())


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_logs_cannot_be_added(admin_client, data, model):
    count = model.objects.count()

    assert admin_client.get(admin_url(model, "add")).status_code == 403
    assert admin_client.post(admin_url(model, "add"), {}).status_code == 403
    assert model.objects.count() == count


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_logs_cannot_be_deleted(admin_client, data, model):
    obj = model.objects.first()
    changelist = admin_client.get(admin_url(model, "changelist"))

    assert "delete_selected" not in changelist.context["cl"].model_admin.get_actions(changelist.wsgi_request)
    assert admin_client.get(admin_url(model, "delete", obj.pk)).status_code == 403
    assert admin_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    admin_client.post(
        admin_url(model, "changelist"), {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
    )
    assert model.objects.filter(pk=obj.pk).exists()


def test_a_received_postback_cannot_be_changed(admin_client, data):
    row = ReceivedPostback.objects.get(outcome="rejected")

    response = admin_client.post(admin_url(ReceivedPostback, "change", row.pk), {"reason": "edited"})

    assert response.status_code == 403
    row.refresh_from_db()
    assert row.reason == "missing_click_id"


def test_the_rotate_keys_action_gives_the_network_a_new_key(admin_client, client, data, postback_url):
    network = data["network"]
    old_key = network.key

    response = admin_client.post(
        admin_url(Network, "changelist"), {"action": "rotate_keys", "_selected_action": [network.pk]}
    )

    assert response.status_code == 302
    network.refresh_from_db()
    assert network.key != old_key
    assert network.key_rotated_at is not None
    assert client.get(postback_url, {"click_id": "c-9"}).status_code == 404
    assert client.get(f"/postback/{network.key}/", {"click_id": "c-9"}).json()["success"] is True


def test_the_rotate_keys_action_leaves_unselected_networks_alone(admin_client, data):
    other = Network.objects.create(name="Other")

    admin_client.post(
        admin_url(Network, "changelist"), {"action": "rotate_keys", "_selected_action": [data["network"].pk]}
    )

    assert Network.objects.get(pk=other.pk).key == other.key


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_an_anonymous_user_is_sent_to_the_admin_login(client, data, model):
    url = admin_url(model, "changelist")

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:login')}?next={url}"


def test_the_admin_refuses_a_network_with_a_bad_allowed_ip(admin_client, db):
    response = admin_client.post(
        admin_url(Network, "add"),
        {
            "name": "Beta",
            "is_active": "on",
            "allowed_ips": "10.0.0.0/33",
            "param_mapping": "{}",
            "status_mapping": "{}",
        },
    )

    assert response.status_code == 200
    assert "is not an IP address or CIDR range" in str(response.context["adminform"].form.errors["allowed_ips"])
    assert not Network.objects.exists()


def test_the_admin_saves_a_valid_network(admin_client, db):
    response = admin_client.post(
        admin_url(Network, "add"),
        {
            "name": "Beta",
            "is_active": "on",
            "allowed_ips": "203.0.113.0/24",
            "param_mapping": '{"click_id": "subid"}',
            "status_mapping": '{"2": "pending"}',
            "payout_scale": "1",
            # The partners app adds the network's outgoing postback as an inline form; none here.
            "outgoing_postback-TOTAL_FORMS": "0",
            "outgoing_postback-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    network = Network.objects.get()
    assert (network.param_mapping, network.status_mapping) == ({"click_id": "subid"}, {"2": "pending"})
    assert network.key


def test_the_admin_refuses_an_offer_url_without_click_id(admin_client, network):
    response = admin_client.post(
        admin_url(Offer, "add"),
        {"network": network.pk, "name": "Quiz", "url": "https://acme.example/go", "payout": "1", "currency": "USD"},
    )

    assert response.status_code == 200
    assert "{click_id}" in str(response.context["adminform"].form.errors["url"])
    assert not Offer.objects.exists()


def change_form_data(response):
    """What the browser would post back from the admin's form, as rendered."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = json.dumps(value) if isinstance(value, (dict, list)) else value
    data.pop("hmac_secret", None)  # never rendered, so the browser posts it empty
    return {**data, "outgoing_postback-TOTAL_FORMS": "0", "outgoing_postback-INITIAL_FORMS": "0"}


@pytest.fixture
def signed_network(db):
    return Network.objects.create(name="Signed", hmac_secret="network-given-secret-0123")


def test_a_networks_page_never_shows_its_secret(admin_client, signed_network):
    response = admin_client.get(admin_url(Network, "change", signed_network.pk))

    text = response.content.decode()
    assert "network-given-secret-0123" not in text
    assert "A secret is stored (netw…); leave this empty to keep it." in text


def test_saving_a_network_without_typing_its_secret_keeps_it(admin_client, signed_network):
    url = admin_url(Network, "change", signed_network.pk)
    data = change_form_data(admin_client.get(url))

    response = admin_client.post(url, {**data, "name": "Renamed"})

    assert response.status_code == 302
    signed_network.refresh_from_db()
    assert (signed_network.name, signed_network.hmac_secret) == ("Renamed", "network-given-secret-0123")


def test_a_secret_typed_in_replaces_the_stored_one(admin_client, signed_network):
    url = admin_url(Network, "change", signed_network.pk)

    admin_client.post(url, {**change_form_data(admin_client.get(url)), "hmac_secret": "a-new-secret-4567"})

    signed_network.refresh_from_db()
    assert signed_network.hmac_secret == "a-new-secret-4567"


def test_remove_the_secret_leaves_the_network_without_one(admin_client, signed_network):
    url = admin_url(Network, "change", signed_network.pk)

    admin_client.post(url, {**change_form_data(admin_client.get(url)), "remove_secret": "on"})

    signed_network.refresh_from_db()
    assert signed_network.hmac_secret == ""


def test_networks_cannot_be_deleted_but_deactivated(admin_client, db):
    network = Network.objects.create(name="Acme")
    changelist = reverse("admin:receiver_network_changelist")

    page = admin_client.get(reverse("admin:receiver_network_change", args=[network.pk]))
    assert "deletelink" not in page.content.decode()
    response = admin_client.post(changelist, {"action": "deactivate", "_selected_action": [network.pk]}, follow=True)

    assert Network.objects.get().is_active is False
    assert "delete_selected" not in response.content.decode()


def test_the_offer_form_chooses_its_network_by_name_and_shows_its_payout_as_written(admin_client, db):
    network = Network.objects.create(name="Acme")
    offer = Offer.objects.create(network=network, name="Survey", url="https://a.example/?s={click_id}", payout="1.5")

    html = admin_client.get(reverse("admin:receiver_offer_change", args=[offer.pk])).content.decode()

    assert re.search(r'<select name="network"[^>]*class="admin-autocomplete', html)
    assert f'<option value="{network.pk}" selected>Acme</option>' in html
    assert 'name="payout" value="1.5"' in html


@pytest.mark.parametrize(
    ("outcome", "tone"),
    [("accepted", "ok"), ("status_change", "ok"), ("adjustment", "ok"), ("duplicate", "wait"), ("rejected", "bad")],
)
def test_the_received_list_shows_each_outcome_as_its_badge(admin_client, data, outcome, tone):
    ReceivedPostback.objects.update(outcome=outcome)

    page = admin_client.get(admin_url(ReceivedPostback, "changelist")).content.decode()

    assert f'<span class="badge badge-{tone}">{outcome}</span>' in page


@pytest.mark.parametrize(
    ("status", "tone"), [("approved", "ok"), ("pending", "wait"), ("rejected", "bad"), ("reversed", "bad")]
)
def test_the_conversion_list_shows_each_status_as_its_badge_and_cuts_long_click_ids(admin_client, data, status, tone):
    Conversion.objects.update(status=status, click_id="a" * 64)

    page = admin_client.get(admin_url(Conversion, "changelist")).content.decode()

    assert f'<span class="badge badge-{tone}">{status}</span>' in page
    assert f'<span title="{"a" * 64}">{"a" * 11}…</span>' in page


def test_the_received_list_cuts_long_click_ids_to_one_line(admin_client, data):
    ReceivedPostback.objects.update(click_id="a" * 64)

    page = admin_client.get(admin_url(ReceivedPostback, "changelist")).content.decode()

    assert f'<span title="{"a" * 64}">{"a" * 11}…</span>' in page


# the network's postback URL


def test_the_network_add_page_shows_no_key_nor_a_creation_time(admin_client, db):
    page = admin_client.get(reverse("admin:receiver_network_add")).content.decode()

    assert "field-key" not in page
    assert "/postback/" not in page
    assert "field-created_at" not in page


def test_a_new_network_lands_on_its_page_with_the_key_it_was_saved_with(admin_client, db, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example"

    add = reverse("admin:receiver_network_add")
    form = admin_client.get(add).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() not in (None, False)}
    data = {name: json.dumps(value) if isinstance(value, dict) else value for name, value in data.items()}
    inline = {"outgoing_postback-TOTAL_FORMS": "0", "outgoing_postback-INITIAL_FORMS": "0"}

    response = admin_client.post(add, {**data, "name": "Fresh", **inline}, follow=True)

    network = Network.objects.get(name="Fresh")
    assert response.redirect_chain[-1][0] == admin_url(Network, "change", network.pk)
    assert f"https://hub.example/postback/{network.key}/?click_id={{click_id}}" in response.content.decode()


def test_the_network_page_writes_the_url_in_the_networks_own_names(admin_client, db, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example"
    network = Network.objects.create(
        name="Wall",
        param_mapping={"click_id": "trans_id", "payout": "amount_usd"},
        signature={"scheme": "fields", "algorithm": "md5", "template": "{trans_id}-{secret}", "in": "query:hash"},
        hmac_secret="s3cret",
    )

    page = admin_client.get(admin_url(Network, "change", network.pk)).content.decode()

    url = f"https://hub.example/postback/{network.key}/?trans_id={{trans_id}}&amp;amount_usd={{amount_usd}}&amp;hash={{hash}}"
    assert f'<code id="panel-url" class="panel-url">{url}</code>' in page
    assert 'data-copy="panel-url"' in page
    assert "{name} is the generic syntax" in page


def test_a_network_without_a_mapping_is_asked_for_our_names(admin_client, db, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example"
    network = Network.objects.create(name="Plain")

    page = admin_client.get(admin_url(Network, "change", network.pk)).content.decode()

    query = "click_id={click_id}&amp;transaction_id={transaction_id}&amp;payout={payout}&amp;status={status}"
    assert f"https://hub.example/postback/{network.key}/?{query}</code>" in page


BIG_LISTS = [ReceivedPostback, Conversion, ConversionEvent, Click, NetworkClick, PointsEntry]


@pytest.mark.parametrize("model", BIG_LISTS, ids=lambda m: m.__name__)
def test_a_big_list_costs_the_same_queries_for_one_row_as_for_many(admin_client, client, data, model):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(admin_url(model, "changelist")).status_code == 200
        return len(captured)

    few = queries()
    for n in range(4):
        click = Click.objects.create(offer=data["offer"], user_id=f"user-{n}")
        NetworkClick.objects.create(network=data["network"], offer=data["offer"], click_id=f"nc-{n}")
        client.get(f"/postback/{data['network'].key}/", {"click_id": click.click_id, "payout": "1", "points": "5"})

    assert queries() == few
