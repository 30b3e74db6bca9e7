"""A private redis-server for the fault tests: on its own loopback port, so that a test can stop it and start it again.

The machine's shared Redis (6379) is never touched: other test runs use it at the same time.
"""

import contextlib
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.support.server import HOST, free_port

REDIS_SERVER = shutil.which("redis-server")


class RedisServer:
    """redis-server without persistence: a restart comes back empty, as after a crash of a cache-only Redis."""

    def __init__(self, log_path):
        if REDIS_SERVER is None:
            pytest.skip("service unavailable: redis-server is not installed (apt-get install redis-server)")
        self.log_path = Path(log_path)
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        return f"redis://{HOST}:{self.port}/0"

    def start(self, timeout=10):
        command = [REDIS_SERVER, "--bind", HOST, "--port", str(self.port), "--save", "", "--appendonly", "no"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        client = redis.Redis(host=HOST, port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"redis-server on port {self.port} did not start\n{self.log_path.read_text()}")
            time.sleep(0.05)
        client.close()
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
