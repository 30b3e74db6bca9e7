"""End-to-end fixtures: a real Celery worker subprocess on the test database and broker, and a local partner."""

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

from .sink import Sink

# Short retries and a loopback partner; a test overrides what it is about.
WORKER_ENV = {"OUTBOUND_ALLOW_LOOPBACK": "true", "DELIVERY_RETRY_SCHEDULE": "0,1,1,1", "LOG_LEVEL": "INFO"}
# An idle worker on the filesystem broker takes 5-7 s to shut down warm (it polls the queue folder);
# the test is over by then, so it gets a short grace before SIGKILL.
STOP_GRACE = 3


@pytest.fixture(autouse=True)
def _celery_in_process():
    """Overrides the suite's eager mode: here every task goes through the broker to a worker process."""
    celery_app.conf.task_always_eager = False


def database_url():
    """The database pytest-django created for this run, as a DATABASE_URL for the worker."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        user += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{user}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"


def _use_transport_options(options):
    celery_app.conf.broker_transport_options = options
    # Connections are pooled per transport options: drop the pools so the next publish opens a new one.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker_env(tmp_path):
    """The broker this process and the worker share: a fresh filesystem queue, or the configured Redis, purged."""
    var_dir = tmp_path / "var"
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
        _use_transport_options(options)
    else:
        celery_app.control.purge()
    yield {"CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "VAR_DIR": str(var_dir)}
    if filesystem:
        _use_transport_options(saved)
    else:
        celery_app.control.purge()


class Worker:
    """`celery worker` (prefork, 2 processes) in its own process group, logging to a file."""

    def __init__(self, name, env, log_path, beat_schedule=None):
        self.name = name
        self.log_path = log_path
        command = [sys.executable, "-m", "celery", "-A", "postbacks_project", "worker", "--pool", "prefork"]
        command += ["--concurrency", "2", "--loglevel", "INFO", "--without-mingle", "--without-gossip"]
        command += ["--hostname", f"{name}@%h"]
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
    def __init__(self, tmp_path, base_env):
        self.tmp_path = tmp_path
        self.base_env = base_env
        self.started = []

    def start(self, beat=False, **env):
        """Start a worker on the test database and broker, with WORKER_ENV plus `env`; wait until it is ready."""
        name = f"e2e{len(self.started) + 1}-{uuid.uuid4().hex[:8]}"
        full_env = {**os.environ, **WORKER_ENV, **self.base_env, **{k: str(v) for k, v in env.items()}}
        schedule = self.tmp_path / f"{name}-beat" if beat else None
        worker = Worker(name, full_env, self.tmp_path / f"{name}.log", schedule)
        self.started.append(worker)
        worker.wait_ready()
        return worker

    def logs(self):
        return "\n".join(f"--- worker {w.name} log ---\n{w.log()}" for w in self.started) or "(no worker started)"

    def stop_all(self):
        for worker in self.started:
            worker.stop()


@pytest.fixture
def workers(transactional_db, broker_env, tmp_path):
    """Starts workers on demand; they are stopped before the test database is flushed."""
    pool = Workers(
        tmp_path, {**broker_env, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "postbacks_project.settings"}
    )
    yield pool
    pool.stop_all()


@pytest.fixture
def sink():
    partner = Sink().start()
    yield partner
    partner.stop()


@pytest.fixture
def wait_until(workers, sink):
    """Poll `predicate` until it is true; on timeout fail with what the partner received and the worker logs."""

    def wait(predicate, what, timeout=30):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                received = "\n".join(f"  {r.method} {r.path}" for r in sink.received) or "  (nothing)"
                pytest.fail(
                    f"timed out after {timeout} s waiting for {what}\n"
                    f"the partner received:\n{received}\n{workers.logs()}",
                    pytrace=False,
                )
            time.sleep(0.05)

    return wait
