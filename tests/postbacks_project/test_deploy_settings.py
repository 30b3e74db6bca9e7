"""Production settings from the environment pass `manage.py check --deploy`; the defaults still serve plain HTTP."""

import json
import os
import secrets
import subprocess
import sys

from django.conf import settings
from django.test import Client

# What docs/operations.md tells an operator to set; the HTTPS settings follow from the https:// address.
PRODUCTION = {"DEBUG": "false", "ALLOWED_HOSTS": "hub.example.com", "PUBLIC_BASE_URL": "https://hub.example.com"}
HTTPS_KNOBS = (
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
)
READ_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({name: getattr(s, name, None) for name in %r}))"
)


def run(args, tmp_path, **env):
    """A fresh process with the test run's environment minus the web-facing settings, plus `env`."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in (*PRODUCTION, *HTTPS_KNOBS, "SECRET_KEY", "SECRET_KEY_FILE", "TRUST_X_FORWARDED_PROTO")
    }
    full = {**clean, "VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "postbacks_project.settings", **env}
    return subprocess.run(
        [sys.executable, *args], cwd=settings.BASE_DIR, env=full, capture_output=True, text=True, check=False
    )


def read_settings(tmp_path, names=HTTPS_KNOBS, **env):
    done = run(["-c", READ_SETTINGS % (list(names),)], tmp_path, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_check_deploy_finds_nothing_with_production_settings(tmp_path):
    done = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        SECRET_KEY=secrets.token_urlsafe(50),
        **PRODUCTION,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_check_deploy_warns_about_plain_http(tmp_path):
    """The control: the same check on the defaults of `make run` does warn, so the pass above means something."""
    done = run(["manage.py", "check", "--deploy"], tmp_path, SECRET_KEY=secrets.token_urlsafe(50))

    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in done.stderr + done.stdout


def test_the_defaults_serve_plain_http_for_make_run(tmp_path):
    values = read_settings(tmp_path)

    assert values == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
    }


def test_an_https_address_turns_https_on_and_each_knob_can_turn_back(tmp_path):
    assert set(read_settings(tmp_path, PUBLIC_BASE_URL="https://hub.example.com").values()) == {True, 31536000}

    values = read_settings(
        tmp_path, PUBLIC_BASE_URL="https://hub.example.com", SECURE_HSTS_SECONDS="3600", SECURE_HSTS_PRELOAD="false"
    )

    assert (values["SECURE_HSTS_SECONDS"], values["SECURE_HSTS_PRELOAD"], values["SECURE_SSL_REDIRECT"]) == (
        3600,
        False,
        True,
    )


def test_the_forwarded_scheme_is_trusted_only_when_asked(tmp_path):
    names = ["SECURE_PROXY_SSL_HEADER"]

    assert read_settings(tmp_path, names) == {"SECURE_PROXY_SSL_HEADER": None}
    assert read_settings(tmp_path, names, TRUST_X_FORWARDED_PROTO="true") == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"]
    }


def test_https_redirect_spares_the_health_check(settings, db):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()  # a new client builds its middleware with these settings

    assert client.get("/admin/").status_code == 301
    assert client.get("/admin/")["Location"].startswith("https://")
    assert client.get("/api/postback/health").status_code in (200, 503)
