"""The network page's postback URL to paste: a preset network's own macro syntax, {name} for the rest, and the preset
a network records (admin, API)."""

import json
import re

import pytest
from django.urls import reverse

from receiver import presets
from receiver.models import Network

pytestmark = pytest.mark.django_db
ADD = reverse("admin:receiver_network_add")
INLINE = {"outgoing_postback-TOTAL_FORMS": "0", "outgoing_postback-INITIAL_FORMS": "0"}
BITLABS_DOCS = "https://developer.bitlabs.ai/docs/callback-parameters"


def page_of(admin_client, network):
    return admin_client.get(reverse("admin:receiver_network_change", args=[network.pk])).content.decode()


def panel_url(page):
    return re.search(r'<code id="panel-url" class="panel-url">(.*?)</code>', page).group(1).replace("&amp;", "&")


def from_preset(slug, **fields):
    network = presets.apply(Network(name=slug, **fields), slug)
    network.save()
    return network


def test_a_bitlabs_network_is_given_bitlabs_own_placeholders_without_the_hash_it_appends(admin_client, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example"
    network = from_preset("bitlabs", hmac_secret="app-secret")

    page = page_of(admin_client, network)

    assert panel_url(page) == (
        f"https://hub.example/postback/{network.key}/?tx=[%TX%]&type=[%TYPE%]&uid=[%UID%]&raw=[%RAW%]&val=[%VAL%]"
    )
    assert f"written as BitLabs documents them ({BITLABS_DOCS})" in page
    assert "Left out: hash, which BitLabs appends by itself" in page
    assert 'data-copy="panel-url"' in page


def test_a_pollfish_network_asks_for_its_signature_placeholder_too(admin_client, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example"
    network = from_preset("pollfish", hmac_secret="secret")

    url = panel_url(page_of(admin_client, network))

    assert url == (
        f"https://hub.example/postback/{network.key}/"
        "?tx_id=[[tx_id]]&device_id=[[device_id]]&cpa=[[cpa]]&reward_value=[[reward_value]]&signature=[[signature]]"
    )


def test_a_parameter_the_preset_has_no_macro_for_stays_generic_and_the_page_says_so(admin_client, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example"
    network = from_preset("affise", hmac_secret="token")

    page = page_of(admin_client, network)

    assert panel_url(page).endswith("?clickid={sub1}&action_id={transactionid}&sum={sum}&secure={secure}")
    assert "except {secure}: generic" in page


def test_a_custom_network_is_given_the_generic_name_placeholders(admin_client, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example"
    network = Network.objects.create(name="Own", param_mapping={"click_id": "tx", "payout": "raw"})

    page = page_of(admin_client, network)

    assert panel_url(page) == f"https://hub.example/postback/{network.key}/?tx={{tx}}&raw={{raw}}"
    assert "{name} is the generic syntax" in page
    assert 'data-copy="panel-url"' in page


def test_a_preset_without_recorded_macros_keeps_the_generic_syntax(admin_client):
    network = from_preset("notik", hmac_secret="secret")

    page = page_of(admin_client, network)

    assert "txn_id={txn_id}" in panel_url(page)
    assert "{name} is the generic syntax" in page


def test_an_ironsource_network_is_given_its_bracket_placeholders_without_the_signature_it_adds(admin_client, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example"
    network = from_preset("ironsource", hmac_secret="private-key")

    page = page_of(admin_client, network)

    assert panel_url(page) == (
        f"https://hub.example/postback/{network.key}/?eventId=[EVENT_ID]&userId=[USER_ID]&rewards=[REWARDS]"
    )
    assert "Left out: signature, which ironSource / LevelPlay appends by itself" in page


def test_a_cake_network_is_given_its_hash_tokens(admin_client, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example"
    network = from_preset("cake")

    page = page_of(admin_client, network)

    assert (
        panel_url(page)
        == f"https://hub.example/postback/{network.key}/?tid=#tid#&leadid=#leadid#&price=#price#&s2=#s2#"
    )
    assert "written as CAKE documents them" in page


def test_a_trackier_network_is_given_the_braced_macros_that_carry_each_value_under_our_names(admin_client, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example"
    network = from_preset("trackier")

    url = panel_url(page_of(admin_client, network))

    assert url == f"https://hub.example/postback/{network.key}/?click_id={{p1}}&txn_id={{txn_id}}&revenue={{payout}}"


def test_a_network_that_appends_every_parameter_itself_is_given_the_bare_url(admin_client, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example"
    network = from_preset("tapjoy", hmac_secret="secret")

    page = page_of(admin_client, network)

    assert panel_url(page) == f"https://hub.example/postback/{network.key}/"
    assert "Left out: id, snuid, currency, verifier, which Tapjoy appends by itself" in page


def test_macros_from_integrations_code_are_shown_as_such(admin_client):
    network = from_preset("cpx-research", hmac_secret="secret")

    page = page_of(admin_client, network)

    assert panel_url(page).endswith("&hash={secure_hash}")
    assert "written as third-party integrations of CPX Research write them" in page
    assert "Check them against CPX Research&#x27;s own docs" in page


def test_the_bitlabs_mapping_edited_to_a_name_without_a_macro_shows_that_name_generic(admin_client):
    network = from_preset("bitlabs", hmac_secret="secret")
    network.param_mapping = {**network.param_mapping, "sub1": "s1"}
    network.save()

    page = page_of(admin_client, network)

    assert panel_url(page).endswith("&val=[%VAL%]&s1={s1}")
    assert "except {s1}: generic" in page


def test_a_network_made_from_a_preset_in_the_admin_records_it_and_shows_its_syntax(admin_client):
    form = admin_client.get(ADD, {"preset": "bitlabs"}).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() not in (None, False)}
    data = {name: json.dumps(value) if isinstance(value, dict) else value for name, value in data.items()}

    response = admin_client.post(f"{ADD}?preset=bitlabs", {**data, "hmac_secret": "app-secret", **INLINE}, follow=True)

    network = Network.objects.get()
    assert network.preset == "bitlabs"
    assert "?tx=[%TX%]&amp;type=[%TYPE%]" in response.content.decode()


def test_a_network_added_by_hand_in_the_admin_records_no_preset(admin_client):
    response = admin_client.post(ADD, {"name": "By hand", "payout_scale": "1", "default_currency": "USD", **INLINE})

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Network.objects.get().preset == ""


def test_the_api_exposes_the_preset_a_network_was_created_from(admin_client):
    created = admin_client.post(
        "/api/v1/networks/",
        {"name": "BL", "preset": "bitlabs", "secret": "app-secret"},
        content_type="application/json",
    ).json()
    by_hand = admin_client.post("/api/v1/networks/", {"name": "Own"}, content_type="application/json").json()

    assert Network.objects.get(pk=created["id"]).preset == "bitlabs"
    assert admin_client.get(f"/api/v1/networks/{created['id']}/").json()["preset"] == "bitlabs"
    assert admin_client.get(f"/api/v1/networks/{by_hand['id']}/").json()["preset"] == ""


def test_an_update_sending_back_the_preset_it_read_is_accepted(admin_client):
    created = admin_client.post(
        "/api/v1/networks/",
        {"name": "BL", "preset": "bitlabs", "secret": "app-secret"},
        content_type="application/json",
    ).json()

    response = admin_client.put(
        f"/api/v1/networks/{created['id']}/", {**created, "name": "BitLabs"}, content_type="application/json"
    )

    assert response.status_code == 200, response.content
    assert Network.objects.get(pk=created["id"]).name == "BitLabs"


def test_an_update_of_a_network_set_up_by_hand_may_send_back_its_blank_preset(admin_client):
    created = admin_client.post("/api/v1/networks/", {"name": "Own"}, content_type="application/json").json()

    response = admin_client.put(
        f"/api/v1/networks/{created['id']}/", {**created, "name": "Own 2"}, content_type="application/json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["preset"] == ""


@pytest.mark.parametrize("slug", [slug for slug, preset in presets.all_presets().items() if "macros" in preset])
def test_a_presets_macros_name_only_parameters_it_sends_with_the_docs_that_show_them(slug):
    settings = presets.preset(slug)["settings"]
    mapping = settings.get("param_mapping") or {}
    signature = settings.get("signature", {})
    sent = set(mapping.values()) | set(re.findall(r"{(\w+)}", signature.get("template", "")))
    if "click_id" not in mapping:
        sent.add("click_id")  # required: unmapped, it comes under our name
    place, _, name = signature.get("in", "").partition(":")
    if place == "query":
        sent.add(name)

    own, docs, source = presets.placeholders(slug)

    assert own
    assert set(own) <= sent
    assert docs.startswith("https://")
    # Macros from memory are no better than the generic {name}: a preset records only macros a source shows.
    assert source in ("documented", "third-party")


@pytest.mark.parametrize("slug", [slug for slug, preset in presets.all_presets().items() if "macros" not in preset])
def test_a_preset_without_macros_says_its_page_shows_generic_placeholders(slug):
    assert "shows generic {name} placeholders" in presets.preset(slug)["description"]
