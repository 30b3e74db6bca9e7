"""The network admin: a new network from a preset, and the box that checks a sample postback against a network."""

import hashlib
import hmac
import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from receiver import presets
from receiver.models import Network, ReceivedPostback

pytestmark = pytest.mark.django_db
SECRET = "network-given-secret-0123"
ADD = reverse("admin:receiver_network_add")
INLINE = {"outgoing_postback-TOTAL_FORMS": "0", "outgoing_postback-INITIAL_FORMS": "0"}


def verify_url(network):
    return reverse("admin:receiver_network_verify_sample", args=[network.pk])


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


@pytest.fixture
def cpx(db):
    """A network signed the CPX Research way: md5 of {trans_id}-{secret} in ?hash=."""
    network = presets.apply(Network(name="CPX Research", hmac_secret=SECRET), "cpx-research")
    network.full_clean()
    network.save()
    return network


def cpx_url(network, trans_id="cpx-1", signature=None, host="https://hub.example"):
    query = {"trans_id": trans_id, "user_id": "u1", "amount_usd": "0.50", "status": "1"}
    query["hash"] = md5(f"{trans_id}-{SECRET}") if signature is None else signature
    return f"{host}/postback/{network.key}/?{urlencode(query)}"


def staff_with(django_user_model, *codenames):
    user = django_user_model.objects.create_user("ops", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="receiver", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


# New network from a preset


def test_the_add_page_offers_every_preset_with_its_source(admin_client):
    response = admin_client.get(ADD)

    assert response.status_code == 200
    text = response.content.decode()
    for preset in presets.all_presets().values():
        assert f'value="{preset["slug"]}"' in text
    assert "CPX Research (third-party)" in text


def test_a_preset_fills_in_the_add_form(admin_client):
    response = admin_client.get(ADD, {"preset": "cpx-research"})

    assert response.status_code == 200
    initial = response.context["adminform"].form.initial
    settings = presets.preset("cpx-research")["settings"]
    assert initial["name"] == "CPX Research"
    assert initial["param_mapping"] == settings["param_mapping"]
    assert initial["status_mapping"] == {"1": "approved", "2": "reversed"}
    assert initial["signature"] == {
        "scheme": "fields",
        "algorithm": "md5",
        "template": "{trans_id}-{secret}",
        "in": "query:hash",
    }
    assert initial["default_currency"] == "USD"
    assert "hmac_secret" not in initial


def test_a_third_party_preset_says_so_on_the_page(admin_client):
    text = admin_client.get(ADD, {"preset": "cpx-research"}).content.decode()

    assert escape(presets.preset("cpx-research")["description"]) in text
    assert escape(f"third-party, {presets.SOURCES['third-party']}") in text


def test_a_preset_fills_in_whatever_fields_presets_lists(admin_client, monkeypatch):
    # given a field another change adds to the presets' fields
    monkeypatch.setattr(presets, "FIELDS", (*presets.FIELDS, "require_known_click"))
    preset = {**presets.preset("cpx-research"), "slug": "strict"}
    preset["settings"] = {**preset["settings"], "require_known_click": True}
    monkeypatch.setattr(presets, "all_presets", lambda: {"strict": preset})

    initial = admin_client.get(ADD, {"preset": "strict"}).context["adminform"].form.initial

    assert initial["require_known_click"] is True


def test_the_form_a_preset_filled_in_saves_with_the_pasted_secret(admin_client):
    form = admin_client.get(ADD, {"preset": "cpx-research"}).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data = {name: json.dumps(value) if isinstance(value, dict) else value for name, value in data.items()}
    data = {name: value for name, value in data.items() if value is not False}

    response = admin_client.post(ADD, {**data, "hmac_secret": SECRET, **INLINE})

    assert response.status_code == 302, response.context["adminform"].form.errors
    network = Network.objects.get()
    assert (network.name, network.hmac_secret, network.signature["template"]) == (
        "CPX Research",
        SECRET,
        "{trans_id}-{secret}",
    )
    assert network.payout_scale == Decimal(1)


def test_an_unknown_preset_is_a_message_not_an_error(admin_client):
    response = admin_client.get(ADD, {"preset": "no-such-network"}, follow=True)

    assert response.redirect_chain == [(ADD, 302)]
    assert [str(message) for message in response.context["messages"]] == [
        "There is no preset 'no-such-network': choose one from the list."
    ]


# Verify a sample postback


def test_the_change_page_has_the_verify_box(admin_client, cpx):
    response = admin_client.get(reverse("admin:receiver_network_change", args=[cpx.pk]))

    assert response.status_code == 200
    text = response.content.decode()
    assert 'id="verify-sample-form"' in text
    assert f'action="{verify_url(cpx)}"' in text
    assert "PUBLIC_BASE_URL" in text


def test_the_box_accepts_a_correctly_signed_sample(admin_client, cpx):
    response = admin_client.post(verify_url(cpx), {"url": cpx_url(cpx)})

    assert response.status_code == 200
    verdict = response.context["verdict"]
    assert (verdict.accepted, verdict.message) == (True, "accepted by the fields recipe")
    assert ("trans_id", "cpx-1") in verdict.params
    assert ("hash", "(the signature)") in verdict.params
    assert verdict.fields["click_id"] == "cpx-1"
    assert verdict.fields["status"] == "approved"
    assert "Accepted:" in response.content.decode()


def test_the_box_names_the_step_a_tampered_sample_fails(admin_client, cpx):
    # given the signature of another conversion
    url = cpx_url(cpx, trans_id="cpx-2", signature=md5(f"cpx-1-{SECRET}"))

    response = admin_client.post(verify_url(cpx), {"url": url})

    verdict = response.context["verdict"]
    assert verdict.accepted is False
    assert verdict.message == "the signature in query:hash does not match the MD5 hex of the template"
    text = response.content.decode()
    assert "Refused:" in text
    assert md5(f"cpx-2-{SECRET}") not in text


def test_the_box_says_when_the_signature_is_missing(admin_client, cpx):
    url = cpx_url(cpx).split("&hash=")[0]

    verdict = admin_client.post(verify_url(cpx), {"url": url}).context["verdict"]

    assert (verdict.accepted, verdict.message) == (False, "no signature in query:hash")


def test_only_the_path_and_query_of_a_url_signature_count(admin_client, settings):
    # given a network that signs the whole URL, which the receiver rebuilds from PUBLIC_BASE_URL
    settings.PUBLIC_BASE_URL = "https://hub.example"
    network = Network.objects.create(
        name="Wall", hmac_secret=SECRET, signature={"scheme": "url", "algorithm": "sha1", "in": "query:hash"}
    )
    path_and_query = f"/postback/{network.key}/?tx=t-1&uid=u1&raw=0.60"
    signature = hmac.new(SECRET.encode(), f"https://hub.example{path_and_query}".encode(), hashlib.sha1).hexdigest()

    # when the admin pastes it with another host, as a proxy's logs show it
    pasted = f"http://10.0.0.5:8000{path_and_query}&hash={signature}"
    verdict = admin_client.post(verify_url(network), {"url": pasted}).context["verdict"]

    assert verdict.accepted is True, verdict.message


def test_the_box_reads_headers_and_a_body(admin_client):
    network = Network.objects.create(name="Signed", hmac_secret=SECRET)  # X-Signature over the body
    body = json.dumps({"click_id": "c-1", "payout": "2.50"})
    signature = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    headers = f"Content-Type: application/json\nX-Signature: {signature}\n"

    url = f"/postback/{network.key}/"
    verdict = admin_client.post(verify_url(network), {"url": url, "headers": headers, "body": body}).context["verdict"]

    assert verdict.accepted is True, verdict.message
    assert verdict.params == [("click_id", "c-1"), ("payout", "2.50")]
    assert verdict.fields["payout"] == "2.500000"


def test_the_box_refuses_a_header_line_without_a_colon(admin_client, cpx):
    response = admin_client.post(verify_url(cpx), {"url": cpx_url(cpx), "headers": "X-Signature abc"})

    assert response.context["verdict"] is None
    assert response.context["sample_form"].errors["headers"] == ["line 1 is not a header line of the form Name: value"]


def test_the_box_notes_a_key_of_another_network(admin_client, cpx):
    url = cpx_url(cpx).replace(cpx.key, "someone-elses-key")

    verdict = admin_client.post(verify_url(cpx), {"url": url}).context["verdict"]

    assert "The sample's postback key is not this network's" in verdict.notes[0]


def test_the_box_never_shows_the_secret(admin_client):
    # given a token recipe, whose correct sample carries the secret itself
    network = Network.objects.create(
        name="Tokened", hmac_secret=SECRET, signature={"scheme": "token", "in": "query:token"}
    )
    url = f"/postback/{network.key}/?click_id=c-1&token={SECRET}&note={SECRET}"

    response = admin_client.post(verify_url(network), {"url": url})
    box = admin_client.post(verify_url(network) + "?box=1", {"url": url})

    assert response.context["verdict"].accepted is True
    for page in (response, box):
        text = page.content.decode()
        assert escape(url) in text  # the URL the admin pasted, given back in the box to edit
        assert SECRET not in text.replace(escape(url), "")
        assert "(the signature)" in text
        assert "(the secret)" in text
    assert network.key not in str(response.context["verdict"].params)


def test_the_box_alone_answers_a_fetch(admin_client, cpx):
    response = admin_client.post(verify_url(cpx) + "?box=1", {"url": cpx_url(cpx)})

    text = response.content.decode()
    assert text.lstrip().startswith("<form")
    assert "<html" not in text
    assert 'id="verify-sample-result"' in text


def test_checking_a_sample_stores_nothing(admin_client, cpx):
    admin_client.post(verify_url(cpx), {"url": cpx_url(cpx)})

    assert not ReceivedPostback.objects.exists()


def test_the_box_needs_the_change_permission(django_user_model, cpx):
    viewer = staff_with(django_user_model, "view_network")

    assert viewer.post(verify_url(cpx), {"url": cpx_url(cpx)}).status_code == 403
    page = viewer.get(reverse("admin:receiver_network_change", args=[cpx.pk]))
    assert page.status_code == 200
    assert b"verify-sample-form" not in page.content


def test_a_view_only_page_shows_the_secret_masked(django_user_model, cpx):
    viewer = staff_with(django_user_model, "view_network")

    text = viewer.get(reverse("admin:receiver_network_change", args=[cpx.pk])).content.decode()

    assert SECRET not in text
    assert "netw…" in text


def test_a_staff_user_with_the_change_permission_may_use_the_box(django_user_model, cpx):
    editor = staff_with(django_user_model, "view_network", "change_network")

    assert editor.post(verify_url(cpx), {"url": cpx_url(cpx)}).context["verdict"].accepted is True


def test_the_box_sends_others_to_the_login_page(client, cpx):
    response = client.post(verify_url(cpx), {"url": cpx_url(cpx)})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_box_is_csrf_protected(django_user_model, cpx):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)

    assert client.post(verify_url(cpx), {"url": cpx_url(cpx)}).status_code == 403
