"""The brain's MQTT client, on the gateway's event loop: what the eyes' outputs change goes
out (topics.py, changes.py, discovery.py), what the house asks comes in (commands.py).

The gateway's calls never wait: messages go into a bounded queue that one task drains into
the broker; while the broker is away they wait there (the oldest dropped beyond
mqtt.max_queued / max_queued_bytes, counted in /metrics), and the client reconnects with
backoff (reconnects.py). The broker publishes the brain's last will (`<prefix>/status` =
offline) if the brain dies; a brain that stops says offline itself."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiomqtt

from actors.messages import Output
from brain.config import MqttConfig, broker
from brain.eye_names import brain_named
from brain.home.changes import RETAINED, Changes, Publish
from brain.home.commands import Drop, Obey, Stale, route
from brain.home.discovery import config_topics, configs
from brain.home.reconnects import Reconnects, Trouble
from brain.home.topics import brain_status, eye_topic, subscriptions
from brain.metrics import Metrics
from brain.outbox import Outbox

__all__ = ["HomeLink", "credentials_refused"]

log = logging.getLogger(__name__)

#: CONNACK codes of a broker that refuses who we are: MQTT 5's 134 and 135 (paho 2 turns
#: MQTT 3.1.1's 4 and 5 into them).
_REFUSED = {134, 135}
#: The most "dropped" lines the house's bad messages may log a minute (the rest are counted).
_DROP_LOGS_PER_MIN = 5
#: A message the broker would not take this many times in a row is dropped (counted), so that
#: it cannot hold up everything behind it.
_TRIES = 3
#: How often stale people counts are looked for.
_TICK_S = 1.0


def credentials_refused(error: Exception) -> bool:
    rc = getattr(error, "rc", None)
    return isinstance(error, aiomqtt.MqttCodeError) and getattr(rc, "value", rc) in _REFUSED


@dataclass(frozen=True)
class _Message:
    topic: str
    payload: bytes
    retain: bool
    # An alert's snapshot is read from this file when sent (the queue holds no JPEGs); its
    # size, taken when queued, counts against max_queued_bytes all the same.
    file: str = ""
    file_bytes: int = 0


def _size(message: _Message) -> int:
    return len(message.topic) + len(message.payload) + message.file_bytes + 100


class HomeLink:
    """One brain's connection to the house. `kinds`: the output kinds this topology can
    publish (for discovery); `obey(eye, output)`: hands the house's command to a connected eye."""

    def __init__(
        self, settings: MqttConfig, kinds: frozenset[str], obey: Callable[[str, Output], None], metrics: Metrics
    ):
        self.settings = settings
        self.kinds = kinds
        self.obey = obey
        self.metrics = metrics
        self.tls, self.host, self.port = broker(settings.url)
        self.prefix = settings.topic_prefix
        self.eyes: dict[str, Changes] = {}
        self.queue = Outbox(settings.max_queued, settings.max_queued_bytes, _size)
        self.unsent: _Message | None = None  # taken from the queue, not yet acknowledged
        self.tries = 0  # … how many times it was not
        self.wake = asyncio.Event()
        self.closing = False
        self.reconnects = Reconnects(settings.reconnect_min_s, settings.reconnect_max_s)
        self.state, self.detail = "connecting", ""
        self.tasks: list[asyncio.Task] = []
        self._drop_logs: list[float] = []

    # -- the gateway's side: never waits ---------------------------------------------------

    def eye_joined(self, eye: str) -> None:
        self.eyes[eye] = Changes(frozenset(self.settings.publish), self.settings.people_stale_s)
        for message in self._announcements(eye):
            self._put(message)

    def eye_left(self, eye: str) -> None:
        self.eyes.pop(eye, None)
        self._put(_Message(eye_topic(self.prefix, eye, "status"), b"offline", True))
        if brain_named(eye):
            self._forget(eye)

    def output(self, eye: str, output: Output) -> None:
        changes = self.eyes.get(eye)
        if changes is not None:
            self._publish_all(eye, changes.see(output))

    def view(self) -> dict:
        """What /brain shows of the house's link."""
        return {"broker": self.settings.url, "state": self.state, "detail": self.detail, "queued": len(self.queue)}

    def _forget(self, eye: str) -> None:
        """A brain-named eye (eye-3) will not come back as itself: the house forgets it (an empty
        retained message clears a retained one), all but its status, which says it left."""
        topics = [eye_topic(self.prefix, eye, what) for what in RETAINED]
        if self.settings.discovery:
            topics += config_topics(self.settings.discovery_prefix, self.prefix, eye)
        for topic in topics:
            self._put(_Message(topic, b"", True))

    def _publish_all(self, eye: str, changes: list[Publish]) -> None:
        for change in changes:
            topic = eye_topic(self.prefix, eye, change.what)
            if change.file:
                try:
                    size = os.stat(change.file).st_size
                except OSError as error:
                    log.warning("MQTT: the alert snapshot %s is gone (%s); not published", change.file, error)
                    continue
                self._put(_Message(topic, b"", change.retain, change.file, size))
            else:
                self._put(_Message(topic, json.dumps(change.payload).encode(), change.retain))

    def _put(self, message: _Message) -> None:
        if not self.queue.fits(message):
            self.metrics.mqtt_dropped.labels("too_big").inc()
            return
        dropped = self.queue.put(message)
        if dropped:
            self.metrics.mqtt_dropped.labels("queue_full").inc(dropped)
        self.wake.set()

    def _announcements(self, eye: str) -> list[_Message]:
        messages = [_Message(eye_topic(self.prefix, eye, "status"), b"online", True)]
        if self.settings.discovery:
            for topic, config in configs(self.settings.discovery_prefix, self.prefix, eye, self.kinds):
                messages.append(_Message(topic, json.dumps(config).encode(), True))
        return messages

    # -- the broker's side ---------------------------------------------------------------

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._run()), asyncio.create_task(self._tick())]

    async def close(self, within_s: float = 2.0) -> None:
        """Send what waits (the eyes' goodbyes), say the brain is offline, and disconnect;
        give up after `within_s` (a broker that is away hears it from the last will)."""
        self.closing = True
        self.wake.set()
        run, ticker = self.tasks
        ticker.cancel()
        done, _ = await asyncio.wait({run}, timeout=within_s)
        if not done:
            run.cancel()
            await asyncio.wait({run}, timeout=1.0)  # (its client's goodbye is cut short)
        waiting = len(self.queue) + (self.unsent is not None)
        if waiting:
            log.warning("MQTT: %d messages for the broker were not sent as the brain stopped", waiting)
            self.metrics.mqtt_dropped.labels("stopping").inc(waiting)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_TICK_S)
            now = time.time()
            for eye, changes in list(self.eyes.items()):
                self._publish_all(eye, changes.tick(now))

    async def _run(self) -> None:
        """Connect, publish and listen until close(); reconnect whenever the broker goes."""
        while not self.closing:
            try:
                async with self._client() as client:
                    log.info("MQTT: %s to %s", self.reconnects.connected(time.monotonic()), self.settings.url)
                    self.state, self.detail = "connected", ""
                    self.metrics.mqtt_connected.set(1)
                    await self._serve(client)
            except Exception as error:  # (MqttError; anything else is a fault of ours: logged, and retried)
                if not isinstance(error, aiomqtt.MqttError):
                    log.exception("MQTT: the link failed; reconnecting")
                self.metrics.mqtt_connected.set(0)
                refused = credentials_refused(error)
                wait, trouble = self.reconnects.failed(time.monotonic(), refused)
                self.state, self.detail = ("refused" if refused else "unreachable"), str(error)
                self._tell(trouble, error, wait)
                try:
                    async with asyncio.timeout(wait):
                        while not self.closing:
                            self.wake.clear()
                            await self.wake.wait()
                except TimeoutError:
                    pass

    def _tell(self, trouble: Trouble | None, error: Exception, wait: float) -> None:
        s = self.settings
        if trouble is Trouble.REFUSED:
            log.error(
                "MQTT: the broker at %s refused the user name or password (%s; from the environment variables "
                "%s and %s): set them right. Trying again every %g s, quietly.",
                s.url,
                error,
                s.user_env,
                s.password_env,
                wait,
            )
        elif trouble is not None:
            log.warning(
                "MQTT: %s %s (%s); the brain serves on without it, keeps up to %d messages for it, and "
                "connects when it is back (tries every %g–%g s).",
                "lost the broker at" if trouble is Trouble.LOST else "cannot reach the broker at",
                s.url,
                error,
                s.max_queued,
                s.reconnect_min_s,
                s.reconnect_max_s,
            )

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca or None) if self.tls else None
        user, password = os.environ.get(s.user_env) or None, os.environ.get(s.password_env) or None
        if password and not user:
            log.warning("MQTT: %s is set but %s is not: no password is sent without a user", s.password_env, s.user_env)
        return aiomqtt.Client(
            self.host,
            self.port,
            username=user,
            password=password,
            will=aiomqtt.Will(brain_status(self.prefix), b"offline", s.qos, retain=True),
            keepalive=s.keepalive_s,
            tls_context=context,
            timeout=10,
        )

    async def _serve(self, client: aiomqtt.Client) -> None:
        await client.publish(brain_status(self.prefix), b"online", self.settings.qos, retain=True)
        for eye in list(self.eyes):
            for message in self._announcements(eye):
                await self._publish(client, message)
        for topic in subscriptions(self.prefix):
            await client.subscribe(topic, self.settings.qos)
        listener = asyncio.create_task(self._listen(client))
        sender = asyncio.create_task(self._send(client))
        done, _ = await asyncio.wait({listener, sender}, return_when=asyncio.FIRST_COMPLETED)
        for task in (listener, sender):
            task.cancel()
        await asyncio.gather(listener, sender, return_exceptions=True)
        for task in done:
            task.result()  # (an MqttError: reconnect)

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            while self.unsent is not None or self.queue:
                if self.unsent is None:
                    self.unsent, self.tries = self.queue.pop(), 0
                if self.tries >= _TRIES:
                    self._dropped(self.unsent.topic, f"the broker did not take it {_TRIES} times", "rejected")
                    self.unsent = None
                    continue
                self.tries += 1
                await self._publish(client, self.unsent)  # (an MqttError leaves it for the next connection)
                self.unsent = None
                self.reconnects.delivered()
            if self.closing:
                await client.publish(brain_status(self.prefix), b"offline", self.settings.qos, retain=True)
                return
            self.wake.clear()
            await self.wake.wait()

    async def _publish(self, client: aiomqtt.Client, message: _Message) -> None:
        payload = message.payload
        if message.file:
            try:
                payload = await asyncio.to_thread(Path(message.file).read_bytes)
            except OSError as error:
                log.warning("MQTT: the alert snapshot %s could not be read (%s); not published", message.file, error)
                return
        await client.publish(message.topic, payload, self.settings.qos, retain=message.retain)
        self.metrics.mqtt_published.inc()

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            topic = str(message.topic)
            decided = route(self.prefix, topic, payload, message.retain, self.eyes, self.settings.max_say_chars)
            if isinstance(decided, Obey):
                self.obey(decided.eye, decided.output)
            elif isinstance(decided, Drop):
                self._dropped(topic, decided.why, decided.reason)
            elif isinstance(decided, Stale):
                self._put(_Message(eye_topic(self.prefix, decided.eye, "status"), b"offline", True))
                if decided.forget:
                    self._forget(decided.eye)

    def _dropped(self, topic: str, why: str, reason: str) -> None:
        self.metrics.mqtt_dropped.labels(reason).inc()
        now = time.monotonic()
        self._drop_logs = [t for t in self._drop_logs if now - t < 60]
        if len(self._drop_logs) < _DROP_LOGS_PER_MIN:
            self._drop_logs.append(now)
            log.warning("MQTT: dropped a message on %s: %s", topic, why)
