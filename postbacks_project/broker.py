"""Broker transports: the embedded one publishes each message file atomically; Redis survives a lost connection."""

import logging
import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, redis
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

logger = logging.getLogger(__name__)


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # kombu writes the message file in place, so a worker polling the folder can take it while it is
        # still empty and die on the JSON error. Written under a name readers skip, then renamed (atomic).
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".part"
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


class RedisQoS(redis.QoS):
    """kombu 5.7's Redis QoS, minus two ways a worker died when Redis went away with tasks in flight (acks_late).

    Restoring those tasks as the dead connection's channel closed, and acknowledging one that finished after the
    worker had reconnected, both went through a channel whose connection was gone: AttributeError, which Celery
    calls an "Unrecoverable error", and the worker exited. Such a task stays in Redis's unacked set (back after
    the visibility timeout, then a no-op: its delivery is claimed once) and the sweep re-queues what was not sent.
    """

    def _orphaned(self):
        return self.channel.connection is None or self.channel.connection.client is None

    def restore_unacked(self, client=None):
        if self._orphaned():
            logger.warning("broker connection lost: %d unacknowledged task(s) left to the sweep", len(self._delivered))
            self._delivered.clear()
            return
        super().restore_unacked(client)

    def ack(self, delivery_tag):
        if self._orphaned():
            logger.warning("task %s finished after its broker connection was lost; not acknowledged", delivery_tag)
            return
        super().ack(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        if self._orphaned():
            logger.warning("task %s rejected after its broker connection was lost; left to the sweep", delivery_tag)
            return
        super().reject(delivery_tag, requeue)


class RedisChannel(redis.Channel):
    QoS = RedisQoS


class RedisTransport(redis.Transport):
    Channel = RedisChannel
