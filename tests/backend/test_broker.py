"""backend.broker against a real Redis: a channel detached from its connection (as a
worker's consumer leaves it when the broker goes away) fails with the broker's own
connection error, and the messages it held come back through the visibility timeout.

With kombu's stock Redis transport the same steps raise ``AttributeError`` from the
channel, which Celery reports as an "Unrecoverable error" and the worker exits: the
CI failure of ``test_redis_restarted_under_load_loses_and_duplicates_nothing``
(reproduced there by keeping Redis down for seconds).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kombu import Connection
from kombu.message import Message
from kombu.transport.redis import Channel
from redis.exceptions import ConnectionError as RedisConnectionError

from backend.broker import TRANSPORT
from backend.celery_app import make_app
from backend.config import BackendConfig
from tests.backend.processes import wait_for

pytestmark = pytest.mark.redis

VISIBILITY_TIMEOUT_S = 1


def _connect(url: str) -> Connection:
    options = {"visibility_timeout": VISIBILITY_TIMEOUT_S, "unacked_restore_throttle": 1}
    return Connection(url, transport=TRANSPORT, transport_options=options)


def _detached_holding_one(url: str) -> tuple[Connection, Channel, Message]:
    """A channel holding one unacknowledged message whose transport was detached from
    its connection: the state a worker's consumer leaves behind when it tears down a
    lost broker connection while tasks run (in the CI tracebacks, the channel's
    ``connection.client`` is None)."""
    conn = _connect(url)
    channel = conn.channel()
    queue = conn.SimpleQueue("jobs", channel=channel)
    queue.put({"job_id": 7})
    message = queue.get(timeout=5)
    assert len(channel.qos._delivered) == 1
    conn._do_close_transport()
    return conn, channel, message


def test_closing_a_detached_channel_holding_messages_does_not_crash(redis_url: str) -> None:
    conn, channel, _ = _detached_holding_one(redis_url)
    conn.maybe_close_channel(channel)  # stock kombu 5.7: AttributeError ('hostname')
    assert channel.closed


def test_acking_on_a_detached_channel_is_a_connection_error(redis_url: str) -> None:
    conn, channel, message = _detached_holding_one(redis_url)
    conn.maybe_close_channel(channel)
    with pytest.raises(RedisConnectionError):  # Celery logs "Couldn't ack" and goes on
        message.ack()  # a task that ran on through the outage finishes


def test_a_message_the_detached_channel_held_is_delivered_again(redis_url: str) -> None:
    conn, channel, _ = _detached_holding_one(redis_url)
    conn.maybe_close_channel(channel)
    with _connect(redis_url) as fresh:
        queue = fresh.SimpleQueue("jobs")

        def again() -> object | None:
            fresh.default_channel.qos.restore_visible()
            try:
                return queue.get(timeout=0.2)
            except queue.Empty:
                return None

        # visible again once the visibility timeout has passed
        message = wait_for(again, 10, "the unacknowledged message delivered again")
        assert message.payload == {"job_id": 7}
        message.ack()


def test_redis_brokers_use_the_repaired_transport(tmp_path: Path) -> None:
    def transport(broker: str) -> str | None:
        config = BackendConfig(
            database_url="sqlite://",
            broker_url=broker,
            result_backend=broker,
            embedded=False,
            rpc_url="http://127.0.0.1:8545",
            deployments_dir=tmp_path,
            blob_location=str(tmp_path),
        )
        return make_app(config).conf.broker_transport

    assert transport("redis://127.0.0.1:6379/0") == TRANSPORT
    assert transport("rediss://cache.example:6380/0") is None  # its scheme's own transport
