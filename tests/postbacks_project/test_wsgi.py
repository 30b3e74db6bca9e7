"""The WSGI application gunicorn serves: hostile requests reach the receiver instead of failing in Django."""

from io import BytesIO
from wsgiref.util import setup_testing_defaults

import pytest

from postbacks_project.wsgi import application
from receiver.models import ReceivedPostback


def _call(path, query, body, content_type):
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": BytesIO(body),
        "SERVER_NAME": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
    }
    setup_testing_defaults(environ)
    started = {}
    chunks = application(environ, lambda status, headers, exc_info=None: started.setdefault("status", status))
    return started["status"], b"".join(chunks)


@pytest.mark.django_db(transaction=True)
def test_a_charset_and_too_many_query_parameters_are_stored_and_answered(network):
    query = "&".join(f"f{number}=1" for number in range(1200))

    status, body = _call(
        f"/postback/{network.key}/", query, b"click_id=c1", "application/x-www-form-urlencoded; charset=latin-1"
    )

    assert status.startswith("200"), body
    row = ReceivedPostback.objects.get()
    assert row.outcome == "rejected"
    assert "more than 1000 parameters" in row.message
    assert len(row.query) > 1000 * len("f1=1")


@pytest.mark.django_db(transaction=True)
def test_a_form_with_a_charset_is_still_decoded(network):
    status, _body = _call(
        f"/postback/{network.key}/",
        "src=q",
        "click_id=caf\u00e9".encode(),
        "application/x-www-form-urlencoded; charset=UTF-8",
    )

    assert status.startswith("200")
    row = ReceivedPostback.objects.get()
    assert (row.outcome, row.click_id, row.query) == ("accepted", "caf\u00e9", "src=q")
