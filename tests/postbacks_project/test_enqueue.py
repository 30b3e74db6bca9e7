"""The one door to the broker: a wake-up is queued once per burst of commits, and never missed after it starts."""

import os
import time
import uuid

import pytest
import redis
from kombu.exceptions import OperationalError

from postbacks_project import enqueue
from postbacks_project.celery import app as celery_app
from tests.conftest import SERVICE_MISSING

REDIS = os.environ.get("CELERY_BROKER_URL", "") if os.environ.get("CELERY_BROKER_URL", "").startswith("redis") else ""


class Task:
    """A wake-up task that records its publishes; `down` makes the broker refuse them."""

    def __init__(self):
        self.name = f"tests.wake.{uuid.uuid4().hex}"
        self.published = 0
        self.down = False

    def apply_async(self, args, **options):
        if self.down:
            raise OperationalError("connection refused")
        self.published += 1


@pytest.fixture(params=["filesystem", "redis"])
def broker(request, tmp_path, monkeypatch):
    """The marker's home: the embedded broker's folder, or the broker's Redis (the CI pass's, else the machine's)."""
    if request.param == "filesystem":
        queue = tmp_path / "broker" / "queue"
        queue.mkdir(parents=True)
        monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery's broker_url prefers it to the setting
        monkeypatch.setitem(celery_app.conf, "broker_url", "filesystem://localhost/")
        monkeypatch.setitem(celery_app.conf, "broker_transport_options", {"data_folder_in": str(queue)})
        return request.param
    url = REDIS or "redis://127.0.0.1:6379/13"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"{SERVICE_MISSING} no Redis at {url} ({exc})")
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    monkeypatch.setitem(celery_app.conf, "broker_url", url)
    return request.param


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    def wake(task):
        with django_capture_on_commit_callbacks(execute=True):
            enqueue.wake_after_commit(task)

    return wake


@pytest.mark.django_db
def test_a_burst_of_commits_queues_one_wake_up(broker, commit):
    task = Task()

    for _ in range(50):
        commit(task)

    assert task.published == 1


@pytest.mark.django_db
def test_a_commit_after_the_wake_up_started_queues_another(broker, commit):
    task = Task()
    commit(task)

    enqueue.woken(task)
    commit(task)
    commit(task)

    assert task.published == 2


@pytest.mark.django_db
def test_a_wake_up_the_broker_refused_is_tried_again_by_the_next_commit(broker, commit):
    task = Task()
    task.down = True
    commit(task)

    task.down = False
    commit(task)

    assert task.published == 1


@pytest.mark.django_db
def test_a_marker_older_than_its_lifetime_counts_as_a_lost_wake_up(broker, commit, monkeypatch):
    task = Task()
    commit(task)
    if broker == "redis":
        enqueue._redis(celery_app.conf.broker_url).pexpire(f"postbacks:queued:{task.name}", 1)
        time.sleep(0.01)
    else:
        later = time.time() + enqueue.WAKE_MARKER_SECONDS + 1
        monkeypatch.setattr(enqueue.time, "time", lambda: later)

    commit(task)

    assert task.published == 2
