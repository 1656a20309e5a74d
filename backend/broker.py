"""Kombu's Redis transport with one repair: a worker outlives a Redis outage.

A worker that loses its broker closes the channel and detaches it from the transport;
afterwards the channel may still be asked for a Redis client: to hand its
unacknowledged messages back while closing, or to acknowledge a task that ran on
through the outage. In kombu 5.7 such a channel fails with ``AttributeError``
(``'NoneType' object has no attribute 'hostname'`` or ``'client'``), which Celery
treats as unrecoverable: the worker exits instead of reconnecting. It happens when
Redis stays away for more than a moment while the worker holds messages (seen in CI;
``tests/backend/test_celery_recovery.py`` keeps Redis down for seconds).

Here such a channel raises Redis's own ``ConnectionError`` instead, which kombu and
Celery already handle as "broker unavailable" (the close goes on, the ack is logged as
failed). Nothing is lost: the messages are still in Redis's unacked set, and the
visibility timeout (``METAINF_TASK_VISIBILITY_TIMEOUT_S``) delivers them again, as it
would had the worker been killed; the tasks are idempotent.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis
from redis.exceptions import ConnectionError as RedisConnectionError

TRANSPORT = f"{__name__}:Transport"

log = logging.getLogger(__name__)


class Channel(redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection is None or self.connection.client is None:
            log.warning(
                "a channel of a lost broker connection asked for Redis: %d unacknowledged "
                "message(s) left for the visibility timeout to deliver again",
                len(self._qos._delivered) if self._qos is not None else 0,
            )
            raise RedisConnectionError("the channel's broker connection was closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(redis.Transport):
    Channel = Channel
