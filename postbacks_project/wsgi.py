"""WSGI entry point for gunicorn, with a request class that leaves hostile query strings to the receiver."""

import contextlib
import os
import socket
import time

import django
from django.conf import settings
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


class DeadlineInput:
    """gunicorn's request body, read against one deadline: a client that stops sending frees its thread.

    Each read waits on the socket only for the time left, so a body trickled a byte at a time ends too; the
    timeout surfaces as TimeoutError (an OSError), which the receiver stores as an incomplete body. The
    connection's reading side is then shut, or gunicorn would wait for the rest of the body before the next
    request on it, holding the thread all the same.
    """

    def __init__(self, stream, sock, seconds):
        self.stream, self.sock = stream, sock
        self.deadline = time.monotonic() + seconds

    def _within_deadline(self, read, *args):
        try:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            return read(*args)
        except TimeoutError:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RD)
            raise TimeoutError(f"the body took longer than {settings.WEB_BODY_TIMEOUT:g} s to arrive") from None

    def read(self, *args):
        return self._within_deadline(self.stream.read, *args)

    def readline(self, *args):
        return self._within_deadline(self.stream.readline, *args)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class PostbackHandler(WSGIHandler):
    request_class = PostbackRequest

    def __call__(self, environ, start_response):
        sock = environ.get("gunicorn.socket")
        if sock is not None and settings.WEB_BODY_TIMEOUT:
            environ["wsgi.input"] = DeadlineInput(environ["wsgi.input"], sock, settings.WEB_BODY_TIMEOUT)
        try:
            return super().__call__(environ, start_response)
        finally:
            if sock is not None:
                sock.settimeout(None)  # the answer is written by gunicorn after we return, at the client's pace


def get_application():
    django.setup(set_prefix=False)
    return PostbackHandler()


application = get_application()
