"""Staff get in only with the Django permission for what they do: on the API, the staff tools and admin actions.

The control for each refusal is the same call by a staff user who holds the permission (superusers are the
`admin_client` of the other suites, which keep passing).
"""

import importlib
import uuid

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.test import Client
from rest_framework.authtoken.models import Token

from partners.models import Delivery, Partner
from receiver.models import Conversion, ConversionEvent, Offer
from testing_tools.models import TestPostback
from tests.support.permissions import staff_with

URL = "https://p.example/pb"
LISTS = {
    "/api/v1/networks/": "receiver.view_network",
    "/api/v1/offers/": "receiver.view_offer",
    "/api/v1/clicks/": "receiver.view_click",
    "/api/v1/conversions/": "receiver.view_conversion",
    "/api/v1/received-postbacks/": "receiver.view_receivedpostback",
    "/api/v1/partners/": "partners.view_partner",
    "/api/v1/deliveries/": "partners.view_delivery",
}


def client_of(user):
    """An integrator's script: a token, no session (so no CSRF token either)."""
    return Client(headers={"authorization": f"Token {Token.objects.create(user=user).key}"})


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def in_group(name):
    user = staff_with(username=name)
    user.groups.add(Group.objects.get(name=name))
    return user


@pytest.fixture
def partner(db):
    return Partner.objects.create(name="Pub", slug="pub", postback_url=URL + "?c={click_id}")


@pytest.fixture
def failed(partner, network):
    conversion = Conversion.objects.create(network=network, click_id="c1", dedupe_id="t1", status="approved")
    event = ConversionEvent.objects.create(conversion=conversion, kind="created", to_status="approved")
    return Delivery.objects.create(event=event, destination=partner, state="failed", attempts=1)


@pytest.fixture
def batch(partner):
    test = TestPostback.objects.create(
        batch=uuid.uuid4(), position=1, partner=partner, username="u", offer_name="o", scheduled_for="2025-01-01T00:00Z"
    )
    return test.batch


def send_test(client, partner):
    return client.post("/api/admin/test-postback/send", {"rows": [{"partner_id": partner.pk}]}, "application/json")


def new_partner(client):
    return client.post("/api/v1/partners/", {"name": "New", "postback_url": URL}, "application/json")


# the API: view, add and change per model


@pytest.mark.parametrize(("path", "permission"), LISTS.items(), ids=list(LISTS))
def test_staff_without_the_view_permission_get_403_json_naming_it(db, path, permission):
    response = client_of(staff_with()).get(path)

    assert response.status_code == 403
    assert response.json() == {"detail": f"Lacks the permission {permission}."}


@pytest.mark.parametrize(("path", "permission"), LISTS.items(), ids=list(LISTS))
def test_staff_with_the_view_permission_read_that_list_and_no_other(db, path, permission):
    client = client_of(staff_with(permission))

    assert client.get(path).status_code == 200
    assert all(client.get(other).status_code == 403 for other in LISTS if other != path)


def test_staff_without_add_partner_cannot_create_a_partner(db):
    response = new_partner(client_of(staff_with("partners.view_partner")))

    assert response.status_code == 403
    assert not Partner.objects.exists()


def test_staff_with_add_partner_create_a_partner(db):
    assert new_partner(client_of(staff_with("partners.add_partner"))).status_code == 201


def test_staff_without_change_partner_cannot_update_a_partner(partner):
    client = client_of(staff_with("partners.view_partner", "partners.add_partner"))

    response = client.patch(f"/api/v1/partners/{partner.pk}/", {"postback_url": URL + "/x"}, "application/json")

    assert response.status_code == 403
    partner.refresh_from_db()
    assert partner.postback_url == URL + "?c={click_id}"


def test_staff_without_add_offer_cannot_create_an_offer(network):
    client = client_of(staff_with("receiver.view_offer"))

    response = client.post("/api/v1/offers/", {"network": network.pk, "name": "x", "url": URL}, "application/json")

    assert response.status_code == 403
    assert not Offer.objects.exists()


# the API: resend, the test-postback tool, the status report


def test_staff_without_resend_delivery_cannot_resend_a_delivery(failed):
    response = client_of(staff_with("partners.view_delivery")).post(f"/api/v1/deliveries/{failed.pk}/resend")

    assert response.status_code == 403
    assert response.json() == {"detail": "Lacks the permission partners.resend_delivery."}
    failed.refresh_from_db()
    assert failed.state == "failed"


def test_staff_with_resend_delivery_resend_a_delivery(failed):
    client = client_of(staff_with("partners.view_delivery", "partners.resend_delivery"))

    assert client.post(f"/api/v1/deliveries/{failed.pk}/resend").status_code == 202


def test_staff_without_send_test_postback_cannot_send_test_postbacks(partner):
    response = send_test(client_of(staff_with("testing_tools.view_testpostback")), partner)

    assert response.status_code == 403
    assert response.json() == {"detail": "Lacks the permission testing_tools.send_test_postback."}
    assert not TestPostback.objects.exists()


def test_staff_without_send_test_postback_cannot_cancel_a_batch(batch):
    client = client_of(staff_with("testing_tools.view_testpostback"))

    assert client.post(f"/api/admin/test-postback/{batch}/cancel").status_code == 403
    assert TestPostback.objects.get().state == "scheduled"


def test_staff_read_a_batch_log_only_with_the_view_permission_of_test_postbacks(batch):
    refused = client_of(staff_with("testing_tools.send_test_postback", username="sender"))
    allowed = client_of(staff_with("testing_tools.view_testpostback", username="reader"))

    assert refused.get(f"/api/admin/test-postback/{batch}").status_code == 403
    assert allowed.get(f"/api/admin/test-postback/{batch}").status_code == 200


def test_staff_read_the_status_report_only_with_the_dashboard_permission(db):
    refused = client_of(staff_with("partners.view_delivery", username="other"))
    allowed = client_of(staff_with("partners.view_dashboard"))

    assert refused.get("/api/status/").json() == {"detail": "Lacks the permission partners.view_dashboard."}
    assert allowed.get("/api/status/").status_code == 200


def test_the_schema_documents_the_403_as_a_missing_permission(client, db):
    operation = client.get("/api/schema/", {"format": "json"}).json()["paths"]["/api/v1/partners/"]["get"]

    assert "permission" in operation["responses"]["403"]["description"]


# the staff pages and admin actions


@pytest.mark.parametrize(
    ("path", "permission"),
    [("/admin/test-postback/", "testing_tools.send_test_postback"), ("/admin/stats/", "partners.view_dashboard")],
)
def test_staff_without_the_tools_permission_get_the_permission_denied_page(db, path, permission):
    refused = logged_in(staff_with(username="other"))
    allowed = logged_in(staff_with(permission))

    assert refused.get(path).status_code == 403
    assert allowed.get(path).status_code == 200


def test_the_admin_index_lists_only_the_tools_the_user_may_open(db):
    page = logged_in(staff_with("partners.view_dashboard")).get("/admin/").content.decode()

    assert 'href="/admin/stats/"' in page
    assert 'href="/admin/test-postback/"' not in page


def test_the_send_test_postback_action_needs_the_send_permission(partner):
    client = logged_in(staff_with("partners.view_partner"))

    response = client.post(
        "/admin/partners/partner/", {"action": "send_test_postback", "_selected_action": [partner.pk]}, follow=True
    )

    assert not TestPostback.objects.exists()
    assert "testing_tools.send_test_postback" in " ".join(str(m) for m in get_messages(response.wsgi_request))


def test_the_resend_now_action_needs_resend_delivery(failed):
    client = logged_in(staff_with("partners.view_delivery"))

    client.post("/admin/partners/delivery/", {"action": "resend_now", "_selected_action": [failed.pk]})

    failed.refresh_from_db()
    assert failed.state == "failed"


@pytest.mark.parametrize(
    ("action", "permission"), [("replay_failed", "partners.resend_delivery"), ("reenable", "partners.change_partner")]
)
def test_partner_actions_are_offered_only_with_their_permission(partner, action, permission):
    viewer = logged_in(staff_with("partners.view_partner", username="viewer"))
    holder = logged_in(staff_with("partners.view_partner", permission))

    assert f'value="{action}"' not in viewer.get("/admin/partners/partner/").content.decode()
    assert f'value="{action}"' in holder.get("/admin/partners/partner/").content.decode()


# the groups


def test_the_support_group_reads_every_model_and_the_dashboard_and_changes_nothing(partner, failed):
    user = in_group("support")
    client = client_of(user)

    assert all(client.get(path).status_code == 200 for path in LISTS)
    assert client.get("/api/status/").status_code == 200
    assert new_partner(client).status_code == 403
    assert client.post(f"/api/v1/deliveries/{failed.pk}/resend").status_code == 403
    assert send_test(client, partner).status_code == 403
    assert logged_in(user).get("/admin/stats/").status_code == 200
    assert logged_in(user).get("/admin/test-postback/").status_code == 403


def test_the_support_group_holds_every_view_permission_of_the_apps(db):
    apps_ = ("receiver", "partners", "testing_tools")
    views = Permission.objects.filter(content_type__app_label__in=apps_, codename__startswith="view_")

    assert set(Group.objects.get(name="support").permissions.all()) == set(views)


def test_the_integrations_group_also_edits_partners_resends_and_sends_tests(partner, failed):
    client = client_of(in_group("integrations"))

    assert all(client.get(path).status_code == 200 for path in LISTS)
    assert new_partner(client).status_code == 201
    assert client.post(f"/api/v1/deliveries/{failed.pk}/resend").status_code == 202
    assert send_test(client, partner).status_code == 201
    assert client.post("/api/v1/offers/", {"name": "x"}, "application/json").status_code == 403


def test_unapplying_the_group_migration_deletes_the_groups(db):
    migration = importlib.import_module("testing_tools.migrations.0003_permission_groups")

    migration.remove_groups(apps, None)

    assert not Group.objects.filter(name__in=["support", "integrations"]).exists()
