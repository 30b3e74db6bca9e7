"""A partner for the tests: a threaded HTTP server on 127.0.0.1 that records every request and answers by script."""

import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int = 200
    delay: float = 0.0
    body: bytes = b"ok"
    headers: tuple = ()  # extra (name, value) pairs, e.g. (("Retry-After", "900"),)
    # Instead of an answer, close the connection with a TCP RST (SO_LINGER 0), as a crashing partner or proxy does.
    reset: bool = False
    # Runs when the request has arrived, before the answer: lets a test act while a request is in flight.
    on_arrival: Callable[[], None] | None = None


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # path and query, exactly as sent
    headers: dict
    body: bytes


class Sink:
    """Answers the scripted replies in order, then `default` for every request after them."""

    def __init__(self, default=None):
        self.default = default or Reply()
        self._script = []
        self._received = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="sink", daemon=True)

    @property
    def port(self):
        return self._server.server_address[1]

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, *replies):
        with self._lock:
            self._script = list(replies)

    @property
    def received(self):
        with self._lock:
            return list(self._received)

    @property
    def paths(self):
        return [request.path for request in self.received]

    def webhook_ids(self):
        return [request.headers.get("webhook-id") for request in self.received]

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def _take(self, request):
        with self._lock:
            self._received.append(request)
            return self._script.pop(0) if self._script else self.default


def _handler_for(sink):
    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply = sink._take(Received(self.command, self.path, headers, body))
            if reply.on_arrival is not None:
                reply.on_arrival()
            if reply.delay:
                time.sleep(reply.delay)
            if reply.reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/plain")
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:
                pass  # the client went away (a killed worker): what it sent is recorded all the same

        do_GET = do_POST = _answer

        def log_message(self, format, *args):
            pass

    return Handler
