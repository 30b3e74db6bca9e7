"""Who may open which door: every URL the project serves, walked from the resolver, is staff-only unless it is
one of the few public ones listed here; and every form and API write of a logged-in session needs its CSRF token.

A new URL fails these tests until it is protected or added to PUBLIC with the reason it may be.
"""

import re
import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern
from rest_framework.authtoken.models import Token

# Public by design, as routes (their pattern text under the project's URL map).
PUBLIC = {
    # The receiver: networks authenticate with the key in the URL (plus allowlist, HMAC, rate limit).
    "postback/<str:key>/",
    "postback/<str:key>",
    "api/postback/",
    "api/postback",
    # Load balancers and monitoring; it shows the database and broker state, no data.
    "api/postback/health",
    "api/postback/health/",
    # Prometheus: its own bearer token or address allowlist, and off (404) until one is set (test_metrics_access.py).
    "metrics",
    # The landing page (the admin's "View site") shows the same health report and links; the icon is a redirect.
    "",
    "favicon.ico",
    # seed_demo's partner: a 404 unless partner URLs may reach loopback (development) and the caller is on it.
    "demo/sink/",
    # Click links are handed to users: they record a click and redirect to the offer.
    "click/<int:offer_id>/",
    # The way in, and out.
    "admin/login/",
    "admin/logout/",
    # The partner portal's way in and out, and its invitation link (a one-time token; partner users only).
    "portal/login/",
    "portal/logout/",
    "portal/set-password/<uidb64>/<token>/",
    "portal/set-password/done/",
    # The API's shape (no data), and the page that reads it; calls from that page still need staff.
    "api/schema/",
    "api/docs/",
}
# Samples for the URLs' parameters, by name; any other parameter gets "1".
SAMPLES = {"url": "no-such-page/", "batch": str(uuid.uuid4())}
CONVERTER_SAMPLES = {"int": "1", "uuid": str(uuid.uuid4())}
REGEX_GROUP = re.compile(r"\(\?P<(\w+)>([^()]*)\)")


def _concrete(pattern):
    """A path matching one level of a URL pattern, with sample values for its parameters."""
    if isinstance(pattern, RoutePattern):
        route = str(pattern)
        for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", route):
            sample = SAMPLES.get(name) or CONVERTER_SAMPLES.get(converter, "1")
            route = re.sub(rf"<(?:\w+:)?{name}>", sample, route)
        return route
    assert isinstance(pattern, RegexPattern), pattern
    text = str(pattern).removeprefix("^").removesuffix("$").replace("/?", "/")

    def sample(match):
        name, body = match.groups()
        if name in SAMPLES:
            return SAMPLES[name]
        # An alternation of names (the admin's app list): take the first.
        return body.split("|")[0] if re.fullmatch(r"[\w|]+", body) else "1"

    text = REGEX_GROUP.sub(sample, text)
    assert not re.search(r"[\\()\[\]*+?^$]", text), f"cannot make a sample path from {pattern!s}: add a sample"
    return text


def _walk(patterns, route="", path=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route + str(entry.pattern), path + _concrete(entry.pattern))
        else:
            assert isinstance(entry, URLPattern)
            yield route + str(entry.pattern), "/" + path + _concrete(entry.pattern), entry.callback


ALL = list(_walk(get_resolver().url_patterns))
PROTECTED = [(route, path) for route, path, callback in ALL if route not in PUBLIC]


def test_the_walk_finds_every_door():
    routes = {route for route, _, _ in ALL}

    assert routes >= PUBLIC, f"listed as public but not served: {sorted(PUBLIC - routes)}"
    # The admin's own pages, the tools outside it, the API and its extra action are all walked.
    for expected in [
        "admin/",
        "admin/stats/",
        "admin/test-postback/",
        "admin/partners/partner/preview/",
        "admin/receiver/network/<path:object_id>/change/",
        "api/status/",
        "api/admin/test-postback/send",
        "api/admin/test-postback/<uuid:batch>/cancel",
    ]:
        assert expected in routes
    assert any(route.startswith("api/v1/") and "resend" in route for route in routes)
    assert len(PROTECTED) > 80


@pytest.mark.parametrize(("route", "path"), [(route, path) for route, path, _ in ALL], ids=[r for r, _, _ in ALL])
def test_each_sample_path_reaches_the_view_it_was_made_for(route, path):
    callback = next(callback for r, p, callback in ALL if (r, p) == (route, path))

    assert resolve(path).func is callback


def _refused(response):
    """Sent to the login page (the portal's, for its pages), or 401/403: the answer of a door that knows the caller
    may not come in. The portal answers 403 to a logged-in user who is not a partner user, staff included."""
    if response.status_code == 302:
        return response["Location"].startswith(("/admin/login/?next=", "/portal/login/?next="))
    return response.status_code in (401, 403)


def assert_refused_every_way(client, path):
    """GET and POST are each refused, or 405 (a door for the other method: no data either); at least one is a
    real refusal, so a door that does not check who calls cannot pass with 405s alone."""
    answers = {method: getattr(client, method)(path) for method in ("get", "post")}

    for method, response in answers.items():
        assert _refused(response) or response.status_code == 405, f"{method.upper()} {path}: {response.status_code}"
    assert any(_refused(response) for response in answers.values()), f"{path}: only 405s"


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "path"), PROTECTED, ids=[route for route, _ in PROTECTED])
def test_anonymous_callers_get_no_staff_page_or_data(route, path, client):
    assert_refused_every_way(client, path)


@pytest.mark.parametrize(("route", "path"), PROTECTED, ids=[route for route, _ in PROTECTED])
def test_logged_in_users_who_are_not_staff_get_no_staff_page_or_data(route, path, member_client):
    assert_refused_every_way(member_client, path)


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/stats/", "/admin/test-postback/", "/api/v1/partners/", "/api/status/"]
)
def test_staff_do_get_in(path, admin_client):
    """The control: the same doors open for staff, so the refusals above are about who calls."""
    assert admin_client.get(path).status_code == 200


@pytest.fixture
def staff_without_csrf(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize(("route", "path"), PROTECTED, ids=[route for route, _ in PROTECTED])
def test_a_staff_session_cannot_post_without_the_csrf_token(route, path, staff_without_csrf):
    """403 from the CSRF check; or 401 from a door that takes only an API token, where a session counts for nothing."""
    response = staff_without_csrf.post(path, {"name": "x"})

    assert response.status_code in (401, 403), f"POST {path}: {response.status_code}"


def test_a_staff_session_with_the_csrf_token_can_post(staff_without_csrf):
    """The control: the 403s above are the CSRF check, not something else refusing every POST."""
    staff_without_csrf.get("/admin/receiver/network/add/")
    token = staff_without_csrf.cookies["csrftoken"].value

    response = staff_without_csrf.post(
        "/admin/receiver/network/add/",
        {"name": "Posted", "param_mapping": "{}", "status_mapping": "{}", "csrfmiddlewaretoken": token},
    )

    assert response.status_code in (200, 302)
    assert "CSRF" not in response.content.decode()


def test_an_api_token_needs_no_csrf_token(admin_user):
    """Integrators' scripts use a token, which a browser never sends by itself: CSRF does not apply."""
    token = Token.objects.create(user=admin_user)
    client = Client(enforce_csrf_checks=True, headers={"authorization": f"Token {token.key}"})

    response = client.post("/api/v1/offers/", {"name": "x"}, content_type="application/json")

    assert response.status_code == 400
