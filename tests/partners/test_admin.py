"""The partners' admin: partner terms and secrets, live preview, delivery logs, actions and the conversion trace."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import responses
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from partners import signing
from partners.admin_logs import STATE_TONES
from partners.models import Breaker, Delivery, DeliveryAttempt, DestinationHealth, Partner
from partners.templating import known_macros_text
from receiver.models import Conversion

URL = "https://wall.example/pb"
PREVIEW = "admin:partners_partner_preview"


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def results(response):
    return list(response.context["cl"].result_list)


def notes(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def partner(db):
    return Partner.objects.create(
        name="Wall", slug="wall", postback_url=URL + "?click={click_id}&status={status}", share_value=Decimal("50")
    )


@pytest.fixture
def convert(client, network, django_capture_on_commit_callbacks):
    """Send a postback and run its hand-over (deliveries sent in-process); the newest delivery."""

    def send(**params):
        with django_capture_on_commit_callbacks(execute=True):
            client.get(f"/postback/{network.key}/", {"click_id": "c-1", "payout": "2.00", **params})
        return Delivery.objects.order_by("-id").first()

    return send


@pytest.fixture
def act(admin_client, django_capture_on_commit_callbacks):
    """Run an admin action the way the changelist posts it; resends are queued on commit, so run those too."""

    def post(model, action, objs, **extra):
        data = {"action": action, "_selected_action": [obj.pk for obj in objs], **extra}
        with django_capture_on_commit_callbacks(execute=True):
            return admin_client.post(admin_url(model, "changelist"), data, follow=True)

    return post


@pytest.fixture
def failed(settings, partner, convert):
    """A delivery that gave up after its only attempt (the partner answered 500)."""
    settings.DELIVERY_RETRY_SCHEDULE = [0]
    with responses.RequestsMock() as mock:
        mock.get(URL, status=500)
        delivery = convert(transaction_id="t-failed")
    delivery.refresh_from_db()
    assert delivery.state == "failed"
    return delivery


@pytest.fixture
def succeeded(partner, convert):
    with responses.RequestsMock() as mock:
        mock.get(URL, body="ok")
        delivery = convert(transaction_id="t-ok")
    delivery.refresh_from_db()
    assert delivery.state == "succeeded"
    return delivery


# lists and pages


def test_the_partner_list_shows_state_share_and_last_delivery(admin_client, succeeded):
    Partner.objects.create(name="Fixed", postback_url=URL, share_type="fixed", share_value=Decimal("1.5"))

    response = admin_client.get(admin_url(Partner, "changelist"))

    page = response.content.decode()
    assert response.status_code == 200
    assert [p.name for p in results(response)] == ["Fixed", "Wall"]
    assert "50%" in page
    assert "1.50 fixed" in page
    assert "succeeded" in page
    assert "sending" in page
    assert 'name="since"' in page


@pytest.mark.parametrize("model", [Partner, Delivery, DeliveryAttempt], ids=lambda m: m.__name__)
def test_every_changelist_and_change_page_renders_with_its_rows(admin_client, failed, succeeded, model):
    response = admin_client.get(admin_url(model, "changelist"))

    assert response.status_code == 200
    assert {obj.pk for obj in results(response)} == set(model.objects.values_list("pk", flat=True))
    for obj in model.objects.all():
        assert admin_client.get(admin_url(model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", [Partner, Delivery, DeliveryAttempt], ids=lambda m: m.__name__)
def test_every_filter_choice_renders(admin_client, failed, succeeded, network, model):
    Partner.objects.create(name="Quiet", postback_url=URL, is_active=False).networks.add(network)
    url = admin_url(model, "changelist")
    changelist = admin_client.get(url).context["cl"]

    for spec in changelist.filter_specs:
        for choice in spec.choices(changelist):
            assert admin_client.get(url + choice["query_string"]).status_code == 200, choice["query_string"]


@pytest.mark.parametrize(
    ("state", "tone"), [(s, t) for s, t in STATE_TONES.items()] + [("cancelled", "off"), ("skipped", "off")]
)
def test_the_delivery_list_shows_each_state_as_its_badge(admin_client, failed, state, tone):
    Delivery.objects.filter(pk=failed.pk).update(state=state)

    page = admin_client.get(admin_url(Delivery, "changelist")).content.decode()

    assert f'<span class="badge badge-{tone}">{state}</span>' in page


def test_the_delivery_list_keeps_code_error_and_next_attempt_short(admin_client, failed, retrying):
    Conversion.objects.filter(pk=failed.event.conversion_id).update(click_id="f" * 40)

    page = admin_client.get(admin_url(Delivery, "changelist")).content.decode()

    due = date_format(timezone.localtime(retrying.next_attempt_at), "DATETIME_FORMAT")
    assert f'<td class="field-next_attempt">{due}</td>' in page
    assert '<td class="field-code">500</td>' in page
    error = "http_5xx: HTTP 500 Internal Server Error"
    assert f'<span title="{error}">{error[:31]}…</span>' in page
    assert f'<span title="{"f" * 40}">{"f" * 11}…</span>' in page


def test_deliveries_filter_by_state_and_destination(admin_client, failed, succeeded, partner):
    url = admin_url(Delivery, "changelist")
    other = Partner.objects.create(name="Other", postback_url=URL)

    assert results(admin_client.get(url, {"state__exact": "failed"})) == [failed]
    assert results(admin_client.get(url, {"destination__id__exact": partner.pk})) == [succeeded, failed]
    assert results(admin_client.get(url, {"destination__id__exact": other.pk})) == []


def test_deliveries_are_found_by_transaction_click_or_webhook_id(admin_client, failed, succeeded):
    url = admin_url(Delivery, "changelist")

    assert results(admin_client.get(url, {"q": "t-failed"})) == [failed]
    assert results(admin_client.get(url, {"q": succeeded.webhook_id})) == [succeeded]
    assert results(admin_client.get(url, {"q": "c-1"})) == [succeeded, failed]
    assert results(admin_client.get(url, {"q": "no-such-thing"})) == []


def test_attempts_filter_by_status_class_and_error_code_and_are_found_by_webhook_id(admin_client, failed, succeeded):
    url = admin_url(DeliveryAttempt, "changelist")

    (bad,) = results(admin_client.get(url, {"response_status_class": "5xx"}))
    assert bad.delivery == failed
    assert results(admin_client.get(url, {"response_status_class": "2xx"}))[0].delivery == succeeded
    assert results(admin_client.get(url, {"error_code__exact": "http_5xx"})) == [bad]
    assert results(admin_client.get(url, {"q": failed.webhook_id})) == [bad]


def test_a_deliverys_page_lists_its_attempts(admin_client, failed):
    response = admin_client.get(admin_url(Delivery, "change", failed.pk))

    (formset,) = response.context["inline_admin_formsets"]
    assert [form.original for form in formset] == list(failed.attempt_set.all())
    assert "HTTP 500 Internal Server Error" in response.content.decode()


@pytest.mark.parametrize("model", [Delivery, DeliveryAttempt], ids=lambda m: m.__name__)
def test_delivery_logs_are_read_only(admin_client, failed, model):
    obj = model.objects.first()
    before = model.objects.count()
    changelist = admin_client.get(admin_url(model, "changelist"))

    assert "delete_selected" not in changelist.context["cl"].model_admin.get_actions(changelist.wsgi_request)
    assert changelist.context["cl"].model_admin.show_full_result_count is False
    assert admin_client.get(admin_url(model, "add")).status_code == 403
    assert admin_client.post(admin_url(model, "add"), {}).status_code == 403
    assert admin_client.post(admin_url(model, "change", obj.pk), {"error": "x", "state": "x"}).status_code == 403
    assert admin_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model.objects.count() == before
    assert Delivery.objects.get(pk=failed.pk).state == "failed"
    assert DeliveryAttempt.objects.get().error == "HTTP 500 Internal Server Error"


# the conversion trace


def test_a_conversions_page_traces_postbacks_events_deliveries_and_attempts(admin_client, failed, convert):
    with responses.RequestsMock() as mock:
        mock.get(URL, body="ok")
        convert(transaction_id="t-failed", status="reversed")
    conversion = Conversion.objects.get()

    response = admin_client.get(admin_url(Conversion, "change", conversion.pk))

    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('class="trace-event"') == 2
    assert page.count('class="trace-attempt"') == 2
    assert "created - → approved" in page
    assert "status_change approved → reversed" in page
    assert "HTTP 500 Internal Server Error" in page
    assert f"{URL}?click=c-1&amp;status=reversed" in page
    assert reverse("admin:partners_delivery_change", args=[failed.pk]) in page


def test_the_trace_shows_why_a_partner_was_skipped(admin_client, partner, convert):
    Partner.objects.filter(pk=partner.pk).update(statuses=["pending"])

    convert()

    response = admin_client.get(admin_url(Conversion, "change", Conversion.objects.get().pk))
    assert "skipped</strong> (status approved is not one of pending)" in response.content.decode()


def test_the_trace_costs_the_same_queries_for_one_partner_or_many(admin_client, partner, convert):
    def queries_for_page():
        conversion = Conversion.objects.order_by("-id").first()
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(admin_url(Conversion, "change", conversion.pk)).status_code == 200
        return len(captured)

    # Two events each time: the receiver's event inline reads each event's postback on its own.
    with responses.RequestsMock() as mock:
        mock.get(URL)
        convert(click_id="one", status="pending")
        convert(click_id="one", status="approved")
        one = queries_for_page()
        for n in range(3):
            Partner.objects.create(name=f"Extra {n}", postback_url=URL)
        convert(click_id="many", status="pending")
        convert(click_id="many", status="approved")

    assert Delivery.objects.filter(event__conversion__click_id="many").count() == 8
    assert queries_for_page() == one


def resend_url(delivery):
    return reverse("admin:partners_delivery_resend", args=[delivery.pk])


@pytest.fixture
def retrying(settings, partner, convert):
    """A delivery whose first attempt got a 500 with a body, its next one five minutes away."""
    settings.DELIVERY_RETRY_SCHEDULE = [0, 300]
    with responses.RequestsMock() as mock:
        mock.get(URL, status=500, body="down for maintenance until noon")
        delivery = convert(transaction_id="t-retrying")
    delivery.refresh_from_db()
    assert delivery.state == "retrying"
    return delivery


@pytest.fixture
def staff_without_resend(db, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_conversion", "view_delivery", "view_deliveryattempt"])
    )
    client = Client()
    client.force_login(user)
    return client


def test_the_trace_comes_before_the_conversions_fields_which_are_collapsed(admin_client, failed):
    page = admin_client.get(admin_url(Conversion, "change", Conversion.objects.get().pk)).content.decode()

    assert page.index('class="conversion-trace"') < page.index("Conversion fields") < page.index("field-click_id")
    assert re.search(r'<fieldset class="[^"]*collapse', page)


def test_the_trace_shows_next_attempt_response_body_and_error_code(admin_client, retrying):
    page = admin_client.get(admin_url(Conversion, "change", Conversion.objects.get().pk)).content.decode()

    due = date_format(timezone.localtime(retrying.next_attempt_at), "DATETIME_FORMAT")
    assert f'next attempt: <span class="trace-next">{due}</span>' in page
    assert "down for maintenance until noon" in page
    assert "http_5xx: HTTP 500 Internal Server Error" in page
    assert reverse("admin:partners_deliveryattempt_change", args=[retrying.attempt_set.get().pk]) in page
    # Still retrying on its own: nothing to resend yet.
    assert resend_url(retrying) not in page


def test_the_trace_says_a_final_delivery_has_no_next_attempt_and_offers_resend(admin_client, failed):
    page = admin_client.get(admin_url(Conversion, "change", Conversion.objects.get().pk)).content.decode()

    assert 'next attempt: <span class="trace-next">-</span>' in page
    assert f'action="{resend_url(failed)}"' in page
    assert "csrfmiddlewaretoken" in page


@responses.activate
def test_resend_from_the_trace_sends_again_and_comes_back_with_a_message(
    admin_client, failed, django_capture_on_commit_callbacks
):
    responses.get(URL, body="ok")
    page = admin_url(Conversion, "change", Conversion.objects.get().pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(resend_url(failed), {"next": page})

    assert response.status_code == 302
    assert response["Location"] == page
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == ("succeeded", 2)
    assert f"Resend of delivery #{failed.pk}: queued 1." in notes(response)


def test_resend_of_a_succeeded_delivery_says_why_not(admin_client, succeeded):
    response = admin_client.post(resend_url(succeeded), {"next": "https://elsewhere.example/"})

    assert response["Location"] == admin_url(Delivery, "change", succeeded.pk)
    assert f"Resend of delivery #{succeeded.pk}: queued 0; not queued 1 (already succeeded: 1)." in notes(response)
    assert Delivery.objects.get(pk=succeeded.pk).attempts == 1


def test_resend_is_refused_without_the_permission_and_not_offered(staff_without_resend, failed):
    page = staff_without_resend.get(admin_url(Conversion, "change", Conversion.objects.get().pk))

    assert page.status_code == 200
    assert resend_url(failed) not in page.content.decode()
    assert resend_url(failed) not in staff_without_resend.get(admin_url(Delivery, "change", failed.pk)).content.decode()
    assert staff_without_resend.post(resend_url(failed)).status_code == 403
    assert Delivery.objects.get(pk=failed.pk).state == "failed"


def test_resend_takes_only_a_post_with_the_csrf_token(admin_user, failed):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    assert client.get(resend_url(failed)).status_code == 405
    assert client.post(resend_url(failed)).status_code == 403
    assert Delivery.objects.get(pk=failed.pk).state == "failed"


def test_a_deliverys_page_shows_its_next_attempt_and_a_resend_button_once_final(admin_client, failed, retrying):
    final = admin_client.get(admin_url(Delivery, "change", failed.pk)).content.decode()
    due = admin_client.get(admin_url(Delivery, "change", retrying.pk)).content.decode()

    assert f'action="{resend_url(failed)}"' in final
    assert resend_url(retrying) not in due
    assert date_format(timezone.localtime(retrying.next_attempt_at), "DATETIME_FORMAT") in due


# live preview of the URL


def test_the_preview_renders_the_url_for_a_sample_conversion_with_values_encoded(admin_client, db):
    response = admin_client.post(
        reverse(PREVIEW),
        {
            "postback_url": URL + "?click={click_id}&pay={payout}&offer={offer_name}",
            "method": "GET",
            "body_type": "form",
            "share_type": "percent",
            "share_value": "40",
            "points_mode": "rate",
            "points_value": "0",
        },
    )

    assert response.json() == {
        "url": URL + "?click=abc123%20%26%20co%20%231&pay=1.00&offer=Daily%20Survey",
        "body": None,
        "error": None,
    }


def test_the_preview_renders_a_json_body(admin_client, db):
    response = admin_client.post(
        reverse(PREVIEW),
        {
            "postback_url": URL,
            "method": "POST",
            "body_template": '{"click": "{click_id}", "points": {points}}',
            "body_type": "json",
            "share_type": "fixed",
            "share_value": "2",
            "points_mode": "rate",
            "points_value": "100",
        },
    )

    assert response.json()["body"] == '{"click": "abc123 & co #1", "points": 200}'


def test_the_preview_names_an_unknown_macro_and_lists_the_known_ones(admin_client, db):
    response = admin_client.post(
        reverse(PREVIEW),
        {"postback_url": URL + "?c={clickid}", "method": "GET", "body_type": "form", "share_type": "percent"},
    )

    data = response.json()
    assert data["url"] is None
    assert "unknown macro {clickid}" in data["error"]
    assert known_macros_text() in data["error"]


def test_the_preview_is_for_staff_only(client, db):
    response = client.post(reverse(PREVIEW), {"postback_url": URL})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_preview_takes_the_csrf_token_the_page_script_sends(admin_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    browser.get(admin_url(Partner, "add"))
    fields = {
        "postback_url": URL,
        "method": "GET",
        "body_type": "form",
        "share_type": "percent",
        "share_value": "100",
        "points_mode": "rate",
        "points_value": "0",
    }

    refused = browser.post(reverse(PREVIEW), fields)
    accepted = browser.post(reverse(PREVIEW), fields, HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)

    assert refused.status_code == 403
    assert accepted.json()["url"] == URL


def test_the_preview_answers_only_posts(admin_client, db):
    assert admin_client.get(reverse(PREVIEW)).status_code == 405


@pytest.mark.parametrize("view", ["add", "change"])
def test_the_partner_form_carries_the_preview_script_and_the_known_macros(admin_client, partner, view):
    url = admin_url(Partner, "add") if view == "add" else admin_url(Partner, "change", partner.pk)

    page = admin_client.get(url).content.decode()

    assert f'data-endpoint="{reverse(PREVIEW)}"' in page
    assert "csrfmiddlewaretoken" in page
    # One list of macros, each a button the page's script inserts at the cursor.
    assert page.count('data-macro="{click_id}"') == 1
    assert 'data-macro="{custom.KEY}"' in page
    assert "Known macros:" not in page
    assert "partners/macros.js" in page
    # Nothing loaded from another host (a CDN): the page's random tokens may spell "cdn" by chance.
    assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', page)


# the partner form


def partner_form(**fields):
    return {
        "name": "Beta",
        "is_active": "on",
        "postback_url": URL + "?c={click_id}",
        "method": "GET",
        "body_template": "",
        "body_type": "form",
        "headers": "{}",
        "scope": "all",
        "payout_basis": "original",
        "share_type": "percent",
        "share_value": "100",
        "points_mode": "rate",
        "points_value": "0",
        "signing_secret": "",
        # the per-offer shares inline, empty
        "offer_shares-TOTAL_FORMS": "0",
        "offer_shares-INITIAL_FORMS": "0",
        **fields,
    }


def test_the_admin_shows_an_unknown_macro_on_the_url_field(admin_client, db):
    response = admin_client.post(admin_url(Partner, "add"), partner_form(postback_url=URL + "?c={clickid}"))

    assert response.status_code == 200
    errors = str(response.context["adminform"].form.errors["postback_url"])
    assert "unknown macro {clickid}" in errors
    assert "{click_id}" in errors
    assert not Partner.objects.exists()


def test_the_admin_saves_a_partner_with_its_networks(admin_client, network):
    response = admin_client.post(admin_url(Partner, "add"), partner_form(networks=[network.pk]))

    assert response.status_code == 302
    assert list(Partner.objects.get().networks.all()) == [network]


def test_the_admin_generates_a_signing_secret_on_request(admin_client, partner):
    form = partner_form(name=partner.name, generate_secret="on")

    response = admin_client.post(admin_url(Partner, "change", partner.pk), form)

    partner.refresh_from_db()
    assert partner.signing_secret.startswith("whsec_")
    assert len(signing.secret_bytes(partner.signing_secret)) >= signing.MIN_SECRET_BYTES
    assert partner.signing_secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]


def test_the_partner_page_never_shows_the_signing_secret_and_an_empty_box_keeps_it(admin_client, partner):
    partner.signing_secret = signing.generate_secret()
    partner.save()

    page = admin_client.get(admin_url(Partner, "change", partner.pk)).content.decode()
    response = admin_client.post(admin_url(Partner, "change", partner.pk), partner_form(name=partner.name))

    assert partner.signing_secret not in page
    assert response.status_code == 302
    assert Partner.objects.get(pk=partner.pk).signing_secret == partner.signing_secret


def test_a_generated_secret_keeps_the_old_one_signing_for_the_rotation_window(admin_client, partner):
    old = partner.signing_secret = signing.generate_secret()
    partner.save()

    admin_client.post(admin_url(Partner, "change", partner.pk), partner_form(name=partner.name, generate_secret="on"))

    partner.refresh_from_db()
    assert partner.secrets_at(timezone.now()) == [partner.signing_secret, old]


def test_the_admin_refuses_a_signing_secret_that_is_not_whsec(admin_client, db):
    response = admin_client.post(admin_url(Partner, "add"), partner_form(signing_secret="hunter2"))

    assert "whsec_" in str(response.context["adminform"].form.errors["signing_secret"])
    assert not Partner.objects.exists()


# auto-disabled partners


def test_the_partner_list_warns_about_auto_disabled_partners_with_the_reason(admin_client, partner):
    Partner.objects.filter(pk=partner.pk).update(disabled_at=timezone.now(), disabled_reason="answered 410 Gone")

    response = admin_client.get(admin_url(Partner, "changelist"))

    (warning,) = notes(response)
    assert "Auto-disabled" in warning
    assert "Wall (answered 410 Gone)" in warning
    assert "auto-disabled" in response.content.decode()


def test_the_partner_list_has_no_warning_when_every_partner_sends(admin_client, partner):
    assert notes(admin_client.get(admin_url(Partner, "changelist"))) == []


def test_re_enable_clears_the_auto_disabled_state(act, partner):
    now = timezone.now()
    Partner.objects.filter(pk=partner.pk).update(disabled_at=now, disabled_reason="gone", failing_since=now)

    response = act(Partner, "reenable", [partner])

    partner.refresh_from_db()
    assert (partner.disabled_at, partner.disabled_reason, partner.failing_since) == (None, "", None)
    assert partner.sendable
    assert "Re-enabled 1 partner(s)" in notes(response)[0]


# resend and replay


@responses.activate
def test_resend_now_sends_a_failed_delivery_and_skips_a_succeeded_one(act, failed, succeeded):
    responses.get(URL, body="ok")

    response = act(Delivery, "resend_now", [failed, succeeded])

    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == ("succeeded", 2)
    assert [call.request.url for call in responses.calls] == [URL + "?click=c-1&status=approved"]
    assert Delivery.objects.get(pk=succeeded.pk).attempts == 1
    assert "Resend: queued 1; not queued 1 (already succeeded: 1)." in notes(response)


def test_resend_now_leaves_a_delivery_in_flight_alone(act, failed):
    Delivery.objects.filter(pk=failed.pk).update(state="sending", locked_until=timezone.now() + timedelta(minutes=1))

    response = act(Delivery, "resend_now", [failed])

    assert Delivery.objects.get(pk=failed.pk).attempts == 1
    assert "queued 0; not queued 1 (in flight: 1)" in notes(response)[0]


@responses.activate
def test_replay_sends_failed_deliveries_created_since_the_given_time(act, failed, succeeded, partner):
    old = Delivery.objects.create(
        event=succeeded.event, destination=Partner.objects.create(name="Old", postback_url=URL)
    )
    Delivery.objects.filter(pk=old.pk).update(state="failed", created_at=timezone.now() - timedelta(days=3))
    responses.get(URL, body="ok")
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")

    response = act(Partner, "replay_failed", [partner, old.destination], since=since)

    assert Delivery.objects.get(pk=failed.pk).state == "succeeded"
    assert Delivery.objects.get(pk=old.pk).state == "failed"
    assert Delivery.objects.get(pk=succeeded.pk).attempts == 1
    assert len(responses.calls) == 1
    assert "queued 1." in notes(response)[0]


def test_replay_skips_partners_that_are_auto_disabled(act, failed, partner):
    Partner.objects.filter(pk=partner.pk).update(disabled_at=timezone.now(), disabled_reason="gone")

    response = act(Partner, "replay_failed", [partner], since="2000-01-01")

    assert Delivery.objects.get(pk=failed.pk).state == "failed"
    assert any("Not replayed for Wall: inactive or auto-disabled" in note for note in notes(response))


@pytest.mark.parametrize(
    ("since", "message"), [("", 'type a date or date and time in the "since" box'), ("soon", "'soon' is not a date")]
)
def test_replay_without_a_usable_since_says_what_to_type(act, failed, partner, since, message):
    response = act(Partner, "replay_failed", [partner], since=since)

    assert any(message in note for note in notes(response))
    assert Delivery.objects.get(pk=failed.pk).attempts == 1


# The partner form as a new admin meets it


def test_the_url_template_box_is_a_wide_textarea(admin_client, db):
    html = admin_client.get(admin_url(Partner, "add")).content.decode()

    assert re.search(r'<textarea name="postback_url"[^>]*class="vLargeTextField"', html)


def test_the_slug_help_text_shows_its_placeholders(admin_client, db):
    html = admin_client.get(admin_url(Partner, "add")).content.decode()

    assert "/click/&lt;offer&gt;/?partner=&lt;slug&gt;." in html


def test_an_empty_add_form_starts_the_preview_with_a_hint_not_an_error(admin_client, db):
    html = admin_client.get(admin_url(Partner, "add")).content.decode()

    # The preview asks the server only once a URL is typed; the server's answer to an empty one is an error.
    assert "type a postback URL to see the request" in html
    assert "if (!urlField.value.trim())" in html
    assert 'class="errorlist' not in html


def test_the_status_filter_is_ticked_boxes_stored_as_the_json_list(admin_client, partner):
    form = partner_form(name=partner.name, statuses=["approved", "reversed"])

    response = admin_client.post(admin_url(Partner, "change", partner.pk), form)

    assert response.status_code == 302
    partner.refresh_from_db()
    assert partner.statuses == ["approved", "reversed"]
    html = admin_client.get(admin_url(Partner, "change", partner.pk)).content.decode()
    assert re.search(r'<input type="checkbox" name="statuses" value="approved"[^>]*checked', html)
    assert not re.search(r'<input type="checkbox" name="statuses" value="pending"[^>]*checked', html)
    assert '<textarea name="statuses"' not in html


def test_no_status_ticked_stores_the_empty_list_that_means_all(admin_client, partner):
    Partner.objects.filter(pk=partner.pk).update(statuses=["pending"])

    admin_client.post(admin_url(Partner, "change", partner.pk), partner_form(name=partner.name))

    partner.refresh_from_db()
    assert partner.statuses == []


def test_decimals_show_as_written_not_at_six_places(admin_client, partner):
    html = admin_client.get(admin_url(Partner, "change", partner.pk)).content.decode()

    assert re.search(r'name="share_value" value="50"', html)
    assert "50.000000" not in html


def test_partners_cannot_be_deleted_but_deactivated(admin_client, partner):
    # given
    html = admin_client.get(admin_url(Partner, "change", partner.pk)).content.decode()
    assert "deletelink" not in html
    assert admin_client.get(admin_url(Partner, "delete", partner.pk)).status_code == 403
    # when
    response = admin_client.post(
        admin_url(Partner, "changelist"), {"action": "deactivate", "_selected_action": [partner.pk]}, follow=True
    )
    # then
    assert Partner.objects.get(pk=partner.pk).is_active is False
    assert "Deactivated 1 partners." in notes(response)
    assert "delete_selected" not in response.content.decode()


# the delivery engine's states


@pytest.fixture
def parked(failed, partner):
    """The partner auto-disabled with the failed delivery parked, waiting for a re-enable."""
    now = timezone.now()
    Partner.objects.filter(pk=partner.pk).update(disabled_at=now, disabled_reason="gone", failing_since=now)
    Delivery.objects.filter(pk=failed.pk).update(state="parked")
    return failed


def test_the_partner_list_shows_an_open_breaker_the_limits_and_the_parked_deliveries(
    admin_client, parked, partner, settings
):
    settings.DELIVERY_PARTNER_CONCURRENCY = 4
    DestinationHealth.objects.update_or_create(
        destination=partner, defaults={"breaker": Breaker.OPEN, "consecutive_failures": 4}
    )
    Partner.objects.filter(pk=partner.pk).update(max_per_second=3)

    page = admin_client.get(admin_url(Partner, "changelist")).content.decode()

    assert '<span class="badge badge-bad">open (paused after consecutive failures): 4 failures in a row' in page
    assert "4 at once (default), 3 /s" in page
    parked_list = f"{admin_url(Delivery, 'changelist')}?state__exact=parked&amp;destination__id__exact={partner.pk}"
    assert f'<a href="{parked_list}">1 waiting</a>' in page


def test_the_partner_page_shows_the_half_open_breaker_limits_and_parked(admin_client, parked, partner, settings):
    settings.DELIVERY_PARTNER_CONCURRENCY = 4
    settings.DELIVERY_PARTNER_RATE = 0
    DestinationHealth.objects.update_or_create(
        destination=partner, defaults={"breaker": Breaker.HALF_OPEN, "consecutive_failures": 2}
    )

    page = admin_client.get(admin_url(Partner, "change", partner.pk)).content.decode()

    assert "half-open (one probe in flight)" in page
    assert "4 at once (default), no limit per second (default)" in page
    assert "1 waiting" in page
    assert "replaying them or discarding them with a reason" in page


def test_re_enable_with_discard_needs_a_reason_and_keeps_it(act, parked, partner):
    refused = act(Partner, "reenable_discard", [partner], reason="")

    assert "Discarding needs a reason" in notes(refused)[0]
    assert Delivery.objects.get(pk=parked.pk).state == "parked"

    act(Partner, "reenable_discard", [partner], reason="partner asked us to drop them")

    parked.refresh_from_db()
    assert parked.state == "cancelled"
    assert "partner asked us to drop them" in parked.reason
    assert Partner.objects.get(pk=partner.pk).sendable


def test_re_enable_with_replay_sends_the_parked_deliveries_again(act, parked, partner):
    with responses.RequestsMock() as mock:
        mock.get(URL, body="ok")
        response = act(Partner, "reenable", [partner])

    assert "1 parked deliveries are sent again" in notes(response)[0]
    assert Delivery.objects.get(pk=parked.pk).state != "parked"
