"""Real Celery workers for the tests: subprocesses on pytest's test database and a broker shared with this process.

A conftest imports the fixtures it needs from here (`broker as broker`: pytest finds a fixture by its name in the
conftest, and the redundant alias tells the linters the import is meant) and makes its `workers` fixture with
`workers_fixture`.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from postbacks_project.celery import app as celery_app

# The partners are local servers on 127.0.0.1; a test overrides what it is about.
WORKER_ENV = {"OUTBOUND_ALLOW_LOOPBACK": "true"}
# An idle worker on the filesystem broker takes 5-7 s to shut down warm (it polls the queue folder);
# the test is over by then, so it gets a short grace before SIGKILL.
STOP_GRACE = 3


@pytest.fixture(autouse=True)
def _celery_in_process():
    """Overrides the suite's eager mode: every task, the live server's too, goes through the broker to a worker."""
    celery_app.conf.task_always_eager = False


def database_url(address=None):
    """The database pytest-django created for this run, as a DATABASE_URL for the worker.

    `address` (host, port) reaches a PostgreSQL server through somewhere else, such as a proxy.
    """
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        user += ":" + quote(db["PASSWORD"], safe="")
    host, port = address or (db["HOST"] or "localhost", db["PORT"] or 5432)
    return f"postgres://{user}@{host}:{port}/{quote(db['NAME'], safe='')}"


def use_transport_options(options):
    celery_app.conf.broker_transport_options = options
    # Connections are pooled per transport options: drop the pools so the next publish opens a new one.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker(tmp_path):
    """The broker this process and the worker share: a fresh filesystem queue, or the configured Redis, purged.

    Yields the environment the worker needs to find the same broker.
    """
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    filesystem = settings.CELERY_BROKER_URL.startswith("filesystem://")
    saved = celery_app.conf.broker_transport_options
    if filesystem:
        # The worker computes its broker folders from VAR_DIR at import; this process must use the same ones.
        options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
        for key, value in options.items():
            if "folder" in key:
                folder = var_dir / Path(value).relative_to(settings.VAR_DIR)
                folder.mkdir(parents=True, exist_ok=True)
                options[key] = str(folder)
        use_transport_options(options)
    else:
        celery_app.control.purge()
    try:
        yield {"CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "VAR_DIR": str(var_dir)}
    finally:
        if filesystem:
            use_transport_options(saved)
        else:
            celery_app.control.purge()


class Worker:
    """`celery worker` in its own process group, logging to a file: prefork or threads (2 by default), or solo."""

    def __init__(self, name, env, log_path, pool="prefork", beat_schedule=None, concurrency=2):
        self.name = name
        self.log_path = log_path
        command = [sys.executable, "-m", "celery", "-A", "postbacks_project", "worker", "--pool", pool]
        if pool != "solo":
            command += ["--concurrency", str(concurrency)]
        command += ["--loglevel", "INFO", "--without-mingle", "--without-gossip", "--hostname", f"{name}@%h"]
        if beat_schedule:
            command += ["--beat", "--schedule", str(beat_schedule)]
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def alive(self):
        return self.process.poll() is None

    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while " ready." not in self.log():
            if not self.alive or time.monotonic() > deadline:
                state = f"exited with {self.process.returncode}" if not self.alive else f"not ready after {timeout} s"
                pytest.fail(f"worker {self.name} {state}\n{self.log()}", pytrace=False)
            time.sleep(0.05)

    def kill(self):
        """SIGKILL the whole worker, pool processes included, as when a machine or container dies."""
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, grace=STOP_GRACE):
        """SIGTERM, then SIGKILL for whatever is left of the group after `grace` seconds."""
        if self.alive:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=10)

    def _signal_group(self, signum):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


class Workers:
    """The workers of one test, started on demand with the same environment and pool."""

    def __init__(self, tmp_path, base_env, prefix, pool, concurrency=2):
        self.tmp_path = tmp_path
        self.base_env = base_env
        self.prefix = prefix
        self.pool = pool
        self.concurrency = concurrency
        self.started = []

    def start(self, beat=False, **env):
        """Start a worker on the test database and broker, with the base environment plus `env`; wait until ready."""
        name = f"{self.prefix}{len(self.started) + 1}-{uuid.uuid4().hex[:8]}"
        full_env = {**self.base_env, **{k: str(v) for k, v in env.items()}}
        schedule = self.tmp_path / f"{name}-beat" if beat else None
        worker = Worker(name, full_env, self.tmp_path / f"{name}.log", self.pool, schedule, self.concurrency)
        self.started.append(worker)
        worker.wait_ready()
        return worker

    def logs(self):
        return "\n".join(f"--- worker {w.name} log ---\n{w.log()}" for w in self.started) or "(no worker started)"

    def stop_all(self):
        for worker in self.started:
            worker.stop()


def workers_fixture(prefix, pool="prefork", concurrency=2, **env):
    """A `workers` fixture: `Workers` named `prefix`1, 2..., with WORKER_ENV plus `env`, on the `broker` fixture."""

    @pytest.fixture
    def workers(transactional_db, broker, tmp_path):
        """Starts workers on demand; they are stopped before the test database is flushed."""
        base_env = {
            **os.environ,
            **WORKER_ENV,
            **{k: str(v) for k, v in env.items()},
            **broker,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "postbacks_project.settings",
        }
        pool_of_workers = Workers(tmp_path, base_env, prefix, pool, concurrency)
        yield pool_of_workers
        pool_of_workers.stop_all()

    return workers
