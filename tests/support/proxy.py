"""A loopback TCP proxy that a fault test can take down and bring back, or arm to cut one connection mid-stream.

It stands between a server process and PostgreSQL, so that a test can make the database unreachable (and
reachable again) without touching the machine's shared PostgreSQL. One thread owns every socket (selectors);
the test's calls are handed to it through a queue and run between two reads.
"""

import contextlib
import queue
import selectors
import socket
import struct
import threading

HOST = "127.0.0.1"


def _reset(sock):
    # SO_LINGER 0: close() sends a TCP RST at once, as a crashed host or a dropped route does, not a polite FIN.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class TcpProxy:
    def __init__(self, target):
        self.target = target
        self.port = None
        self.cut = threading.Event()  # set when an armed cut has happened
        self._marker = None
        self._listener = None
        self._peers = {}  # socket -> the other end of its connection
        self._tails = {}  # client socket -> its last bytes, so that a marker split over two reads is still seen
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._selector.register(self._wake_read, selectors.EVENT_READ, "wake")
        self._calls = queue.SimpleQueue()
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    @property
    def address(self):
        return (HOST, self.port)

    def up(self):
        """Accept connections (on the same port as before, if there was one)."""
        self._call(self._listen)
        return self

    def down(self):
        """Refuse new connections and reset every open one: the database is unreachable."""
        self._call(self._drop_all)

    def cut_on(self, marker):
        """Reset the next connection whose client sends `marker` (bytes), instead of passing that data on."""
        self.cut.clear()

        def arm():
            self._marker = marker

        self._call(arm)

    def close(self):
        self._call(self._drop_all)
        self._running = False
        self._wake_write.send(b"x")
        self._thread.join(timeout=5)
        self._wake_read.close()
        self._wake_write.close()

    def _call(self, function):
        done = threading.Event()
        self._calls.put((function, done))
        self._wake_write.send(b"x")
        if not done.wait(timeout=10):
            raise RuntimeError("the proxy thread did not answer")

    def _listen(self):
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, self.port or 0))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ, "listen")

    def _drop_all(self):
        if self._listener is not None:
            self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None
        for sock in list(self._peers):
            self._forget(sock)

    def _forget(self, sock, reset=True):
        peer = self._peers.pop(sock, None)
        self._tails.pop(sock, None)
        for end in (sock, peer):
            if end is None:
                continue
            self._peers.pop(end, None)
            self._tails.pop(end, None)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(end)
            if reset:
                _reset(end)
            else:
                end.close()

    def _loop(self):
        while self._running:
            for key, _events in self._selector.select(timeout=1):
                if key.data == "wake":
                    self._wake_read.recv(4096)
                    while not self._calls.empty():
                        function, done = self._calls.get()
                        function()
                        done.set()
                elif key.data == "listen":
                    self._accept()
                elif key.fileobj in self._peers:
                    self._pump(key.fileobj, key.data)

    def _accept(self):
        client, _address = self._listener.accept()
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        upstream.settimeout(None)
        self._peers[client], self._peers[upstream] = upstream, client
        self._tails[client] = b""
        self._selector.register(client, selectors.EVENT_READ, "client")
        self._selector.register(upstream, selectors.EVENT_READ, "upstream")

    def _pump(self, sock, side):
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._forget(sock, reset=False)
            return
        if side == "client" and self._marker is not None:
            seen = self._tails[sock] + data
            if self._marker in seen:
                self._marker = None
                self._forget(sock)
                self.cut.set()
                return
            self._tails[sock] = seen[-len(self._marker) :]
        try:
            self._peers[sock].sendall(data)
        except OSError:
            self._forget(sock)
