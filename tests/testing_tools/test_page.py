"""The test-postback page lives in the admin: staff only, linked from the index, with its live log's config."""

import json

from testing_tools.models import TestPostback


def test_staff_see_the_page_inside_the_admin(admin_client, partner):
    response = admin_client.get("/admin/test-postback/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Test postback" in page
    assert 'class="breadcrumbs"' in page
    assert partner.name in page
    assert "testing_tools/test_postback.js" in page


def test_anonymous_users_get_the_admin_login(client, db):
    response = client.get("/admin/test-postback/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_non_staff_users_get_the_admin_login(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("bob", password="pw-bob-12345"))

    response = client.get("/admin/test-postback/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_admin_index_links_to_the_tool(admin_client):
    assert 'href="/admin/test-postback/"' in admin_client.get("/admin/").content.decode()


def test_active_partners_are_listed_first(admin_client, partner, db):
    from partners.models import Partner

    Partner.objects.create(name="AAA inactive", postback_url="https://a.example/", is_active=False)

    page = admin_client.get("/admin/test-postback/").content.decode()

    assert page.index("Pub A") < page.index("AAA inactive (inactive)")


def test_the_page_config_carries_the_batch_and_preselected_partners(admin_client, partner):
    batch = "0f5e3c2a-9b1d-4e8f-a6c7-1d2e3f4a5b6c"
    response = admin_client.get(f"/admin/test-postback/?batch={batch}&partner={partner.pk}")

    config = json.loads(response.context["config"] and json.dumps(response.context["config"]))
    assert config["batch"] == batch
    assert config["preselected"] == [partner.pk]
    assert config["pollSeconds"] == 3
    assert config["batchUrl"] == "/api/admin/test-postback/"


def test_the_send_action_on_partners_opens_the_page_on_a_new_batch(
    admin_client, partner, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/partners/partner/", {"action": "send_test_postback", "_selected_action": [partner.pk]}
        )

    test = TestPostback.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/test-postback/?batch={test.batch}"
    assert (test.partner, test.delay_minutes) == (partner, 0)
    assert len(queued) == 1


def test_test_postbacks_are_read_only_in_the_admin(admin_client, partner, queued):
    admin_client.post("/admin/partners/partner/", {"action": "send_test_postback", "_selected_action": [partner.pk]})
    test = TestPostback.objects.get()

    assert admin_client.get("/admin/testing_tools/testpostback/").status_code == 200
    assert admin_client.get("/admin/testing_tools/testpostback/add/").status_code == 403
    assert admin_client.get(f"/admin/testing_tools/testpostback/{test.pk}/change/").status_code == 200


def test_each_partner_page_links_to_the_tool_for_that_partner(admin_client, partner):
    page = admin_client.get(f"/admin/partners/partner/{partner.pk}/change/").content.decode()

    assert f'href="/admin/test-postback/?partner={partner.pk}"' in page


def test_a_batch_that_is_not_a_uuid_is_named_as_such_and_ignored(admin_client, partner):
    response = admin_client.get('/admin/test-postback/?batch=abc"><script>')

    assert response.status_code == 200
    assert response.context["config"]["batch"] == ""
    assert "is not a batch id (a UUID)" in response.content.decode()
    assert "<script>" not in response.content.decode().split("is not a batch id")[0][-80:]


def test_a_preselected_partner_that_is_not_an_id_is_ignored(admin_client, partner):
    response = admin_client.get(f"/admin/test-postback/?partner=%C2%B2&partner={partner.pk}")

    assert response.status_code == 200
    assert response.context["config"]["preselected"] == [partner.pk]
