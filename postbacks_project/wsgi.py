"""WSGI entry point for gunicorn, with a request class that leaves hostile query strings to the receiver."""

import os

import django
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.http import HttpRequest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postbacks_project.settings")


class PostbackRequest(WSGIRequest):
    """Django's request, except that a charset in the Content-Type does not parse the query string at once.

    Django's encoding setter asks hasattr(self, "GET"), which parses the query string inside the request's
    constructor: with more than DATA_UPLOAD_MAX_NUMBER_FIELDS parameters that raises before any view can
    store the request, and the server answers a bare 500. Dropping a parsed copy without parsing one lets
    the receiver read the query later, store the request and say what was wrong with it.
    """

    def _set_encoding(self, value):
        self._encoding = value
        self.__dict__.pop("GET", None)
        self.__dict__.pop("_post", None)

    encoding = property(HttpRequest.encoding.fget, _set_encoding)


class PostbackHandler(WSGIHandler):
    request_class = PostbackRequest


def get_application():
    django.setup(set_prefix=False)
    return PostbackHandler()


application = get_application()
