"""The web side as production runs it, for the fault tests: gunicorn (the Procfile's command) in a subprocess.

pytest-django's `live_server` is a thread of the test process, on the test process's database and broker
settings; a fault test needs a server whose database or broker it can take away, so it runs its own.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

HOST = "127.0.0.1"


def free_port():
    """A port nobody listens on now (for a server that must bind it itself, e.g. redis-server)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn gthread, one worker process, on a loopback socket bound here and handed over (no port race)."""

    def __init__(self, env, log_path, threads=8):
        self.log_path = log_path
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            "postbacks_project.wsgi",
            "--config",
            "python:postbacks_project.gunicorn_conf",
            f"--bind=fd://{sock.fileno()}",
            "--workers=1",
            f"--threads={threads}",
            "--graceful-timeout=3",
        ]
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=[sock.fileno()],
                start_new_session=True,
            )
        sock.close()
        self.session = requests.Session()

    def url(self, path):
        return f"http://{HOST}:{self.port}{path}"

    def get(self, path, **kwargs):
        return self.session.get(self.url(path), timeout=60, **kwargs)

    def post(self, path, **kwargs):
        return self.session.post(self.url(path), timeout=60, **kwargs)

    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    def wait_ready(self, timeout=30):
        """Until the health page answers at all (200 or 503: the test may have taken a dependency away)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}\n{self.log()}", pytrace=False)
            with contextlib.suppress(requests.ConnectionError):
                if self.get("/api/postback/health").status_code in (200, 503):
                    return self
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer within {timeout} s\n{self.log()}", pytrace=False)
            time.sleep(0.1)

    def stop(self):
        self.session.close()
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
