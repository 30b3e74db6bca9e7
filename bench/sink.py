"""The benchmarks' partner: a process on a loopback port answering 200 "ok" as fast as it can, counting what it got.

bench/forwarding.py, bench/scale_out.py and bench/backlog.py start it with `sink()`; it runs this file as
`python bench/sink.py <listening fd> <delay seconds>`. GET /_stats answers the counts as JSON.
"""

import asyncio
import contextlib
import http.client
import json
import os
import socket
import sys

from common import HOST, listening_socket, start, stop, wait_for

OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class SinkCounts:
    """Per batch (the click id up to its last "-"): requests, distinct URLs, distinct webhook-id headers, and the
    most requests it had in flight at once (arrived, not answered yet).

    A request repeating a URL or a webhook-id is a delivery sent twice. Counting by batch, not since a
    reset, keeps a straggler of one phase out of the next one's figures.
    """

    def __init__(self):
        self.batches = {}

    def stats(self):
        stats = {
            tag: {"requests": n, "unique": len(urls), "webhook_ids": len(ids), "most_in_flight": most}
            for tag, (n, urls, ids, _now, most) in self.batches.items()
        }
        body = json.dumps(stats).encode()
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    def arrive(self, target, webhook_id):
        """Count a request as it arrives; its batch, for `leave` once answered."""
        start = target.find("click_id=") + len("click_id=")
        click_id = target[start : target.find("&", start)]
        batch = self.batches.setdefault(click_id.rpartition("-")[0], [0, set(), set(), 0, 0])
        batch[0] += 1
        batch[1].add(target)
        if webhook_id:
            batch[2].add(webhook_id)
        batch[3] += 1
        batch[4] = max(batch[4], batch[3])
        return batch

    @staticmethod
    def leave(batch):
        batch[3] -= 1


async def sink_connection(counts, delay, reader, writer):
    """HTTP/1.1 keep-alive, parsed just enough: request line, Content-Length, webhook-id, Connection: close."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").lower().split("\r\n")
            length = next((int(line[15:]) for line in lines if line.startswith("content-length:")), 0)
            webhook_id = next((line[11:].strip() for line in lines if line.startswith("webhook-id:")), "")
            if length:
                await reader.readexactly(length)
            target = head.split(b" ", 2)[1].decode("latin-1")
            if target == "/_stats":
                writer.write(counts.stats())
            else:
                batch = counts.arrive(target, webhook_id)
                try:
                    if delay:
                        await asyncio.sleep(delay)  # a partner across the internet, not on this machine
                    writer.write(OK_RESPONSE)
                    await writer.drain()
                finally:
                    counts.leave(batch)
            if "connection: close" in lines:
                break
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass  # the client went away; what it sent is counted all the same
    finally:
        writer.close()


async def serve_sink(fd, delay):
    counts = SinkCounts()
    server = await asyncio.start_server(
        lambda r, w: sink_connection(counts, delay, r, w), sock=socket.socket(fileno=fd)
    )
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def sink(log_path, latency_ms=0):
    """The sink in its own process on a loopback port, answering after `latency_ms`; yield its port."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    command = [sys.executable, __file__, str(sock.fileno()), str(latency_ms / 1000)]
    process = start(command, os.environ, log_path, [sock.fileno()])
    sock.close()
    try:
        wait_for(lambda: sink_stats(port) is not None, "sink start", 10, process, log_path)
        yield port
    finally:
        stop(process)


def sink_stats(port, tag=None):
    """{"requests", "unique", "webhook_ids"} of one batch (all batches without `tag`); None while it does not answer."""
    with contextlib.suppress(OSError):
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        conn.request("GET", "/_stats")
        stats = json.loads(conn.getresponse().read())
        conn.close()
        empty = {"requests": 0, "unique": 0, "webhook_ids": 0, "most_in_flight": 0}
        return stats if tag is None else stats.get(tag, empty)
    return None


if __name__ == "__main__":
    asyncio.run(serve_sink(int(sys.argv[1]), float(sys.argv[2])))
