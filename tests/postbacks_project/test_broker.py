"""The broker: the embedded one publishes files whole; one that is down fails a publish at once and kills no worker."""

import json
import os
from types import SimpleNamespace

import pytest
from django.conf import settings
from kombu import Connection
from kombu.exceptions import OperationalError

from postbacks_project.broker import RedisQoS, RedisTransport, Transport

# Nothing listens on port 1, so a connection there is refused at once.
DEAD_REDIS = "redis://127.0.0.1:1/0"


def test_a_message_is_never_visible_under_its_final_name_before_it_is_written(tmp_path, monkeypatch):
    folder = tmp_path / "queue"
    folder.mkdir()
    seen = []
    real_replace = os.replace

    def watch(source, target):
        # at the moment of the rename, no readable message exists yet and the partial file is complete
        seen.append(sorted(os.listdir(folder)))
        with open(source, "rb") as handle:
            assert json.loads(handle.read())
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", watch)
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(tmp_path)}
    with Connection("filesystem://localhost/", transport_options=options) as connection:
        assert isinstance(connection.transport, Transport)
        queue = connection.SimpleQueue("q")
        queue.put({"hello": "world"})
        message = queue.get(timeout=1)

    assert message.payload == {"hello": "world"}
    assert seen
    assert all(name.endswith(".msg.part") for names in seen for name in names)


def test_a_broker_that_is_down_fails_a_publish_at_once_instead_of_retrying_with_sleeps(monkeypatch):
    # kombu's default retries a refused connection for CELERY_BROKER_CONNECTION_TIMEOUT, sleeping 2 s then 4 s:
    # every postback waited 6 s while the broker was down. One try, failing at once: the sweep sends it later.
    sleeps = []
    monkeypatch.setattr("kombu.utils.functional.sleep", sleeps.append)
    with (
        Connection(
            DEAD_REDIS,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            connect_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT,
        ) as connection,
        pytest.raises(OperationalError, match="Connection refused"),
    ):
        connection.Producer().publish({"task": "x"}, routing_key="celery", retry=False)

    assert sleeps == []


def test_redis_urls_use_our_transport():
    with Connection("redis://127.0.0.1:1/0") as connection:
        assert isinstance(connection.transport, RedisTransport)
        assert connection.transport.Channel.QoS is RedisQoS


def test_tasks_held_when_redis_went_away_are_left_to_the_sweep_instead_of_killing_the_worker():
    # kombu 5.7 raised AttributeError here (the channel's connection is gone), and the worker exited.
    qos = RedisQoS(SimpleNamespace(connection=None, do_restore=True), prefetch_count=1)
    qos._delivered["tag-1"] = object()

    qos.restore_unacked()
    qos.ack("tag-1")
    qos.reject("tag-1", requeue=True)

    assert not qos._delivered
