"""The landing page at /, the favicon and the API's index at /api/v1/."""

from django.contrib.staticfiles import finders


def test_the_landing_page_shows_the_health_and_links_to_the_admin_the_api_docs_and_the_portal(client, db):
    response = client.get("/")

    assert response.status_code == 200
    text = response.content.decode()
    assert "Health: healthy" in text
    assert 'href="/admin/"' in text
    assert 'href="/api/docs/"' in text
    assert 'href="/api/v1/"' in text
    assert 'href="/portal/"' in text


def test_the_landing_page_answers_503_and_names_the_check_that_failed(client, db, monkeypatch):
    monkeypatch.setattr("receiver.health.check_broker", lambda: {"ok": False, "error": "connection refused"})

    response = client.get("/")

    assert response.status_code == 503
    assert "<strong>down</strong>: connection refused" in response.content.decode()


def test_favicon_ico_redirects_to_the_svg_icon_in_static(client, db):
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.svg"
    assert finders.find("favicon.svg")


def test_admin_pages_name_the_icon(admin_client):
    response = admin_client.get("/admin/")

    assert '<link rel="icon" href="/static/favicon.svg"' in response.content.decode()


def test_the_api_index_lists_both_apps_collections_for_staff(admin_client):
    response = admin_client.get("/api/v1/", headers={"accept": "application/json"})

    assert response.status_code == 200
    assert response.json() == {
        name: f"http://testserver/api/v1/{name}"
        for name in ("networks", "offers", "clicks", "conversions", "received-postbacks", "partners", "deliveries")
    }


def test_the_api_index_is_staff_only(client, db):
    response = client.get("/api/v1/")

    assert response.status_code == 401
