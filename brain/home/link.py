"""The brain's MQTT client, on the gateway's event loop: what the eyes' outputs change goes
out (topics.py, changes.py, discovery.py), what the house asks comes in (commands.py).

The gateway's calls never wait: messages go into a bounded queue that one task drains into
the broker; while the broker is away they wait there (the oldest dropped beyond
mqtt.max_queued / max_queued_bytes, counted in /metrics), and the client reconnects with
backoff. The broker publishes the brain's last will (`<prefix>/status` = offline) if the
brain dies; a brain that stops says offline itself."""

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
from brain.home.changes import Changes
from brain.home.commands import command
from brain.home.discovery import config_topics, configs
from brain.home.topics import brain_status, eye_topic, inbound, subscriptions
from brain.metrics import Metrics
from brain.outbox import Outbox

__all__ = ["HomeLink", "retry_after", "credentials_refused"]

log = logging.getLogger(__name__)

#: CONNACK codes of a broker that refuses who we are (MQTT 3.1.1's 4 and 5, MQTT 5's 134, 135).
_REFUSED = {4, 5, 134, 135}
#: The most "dropped" lines the house's bad messages may log a minute (the rest are counted).
_DROP_LOGS_PER_MIN = 5


def credentials_refused(error: Exception) -> bool:
    rc = getattr(error, "rc", None)
    return isinstance(error, aiomqtt.MqttCodeError) and getattr(rc, "value", rc) in _REFUSED


def retry_after(failures: int, refused: bool, settings: MqttConfig) -> float:
    """Seconds before the next connection attempt, after `failures` in a row (≥ 1): doubled from
    reconnect_min_s up to reconnect_max_s; a refusal of the credentials waits the longest at once
    (they will not be right sooner, and the broker need not be hammered)."""
    if refused:
        return settings.reconnect_max_s
    return min(settings.reconnect_max_s, settings.reconnect_min_s * 2 ** max(0, failures - 1))


@dataclass(frozen=True)
class _Message:
    topic: str
    payload: bytes
    retain: bool
    file: str = ""  # read when sent (an alert's snapshot), instead of `payload`


def _size(message: _Message) -> int:
    return len(message.topic) + len(message.payload) + 100


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
        self.named: dict[str, bool] = {}  # eye → its page named it (its device stays when it leaves)
        self.queue = Outbox(settings.max_queued, settings.max_queued_bytes, _size)
        self.wake = asyncio.Event()
        self.closing = False
        self.state, self.detail = "connecting", ""
        self.unsent: _Message | None = None  # taken from the queue, not yet acknowledged
        self.task: asyncio.Task | None = None
        self._drop_logs: list[float] = []

    # -- the gateway's side: never waits ---------------------------------------------------

    def eye_joined(self, eye: str, named: bool) -> None:
        self.eyes[eye] = Changes(frozenset(self.settings.publish))
        self.named[eye] = named
        for message in self._announcements(eye):
            self._put(message)

    def eye_left(self, eye: str) -> None:
        changes = self.eyes.pop(eye, None)
        named = self.named.pop(eye, True)
        self._put(_Message(eye_topic(self.prefix, eye, "status"), b"offline", True))
        if named:
            return
        # A brain-named eye (eye-3) will not come back as itself: the house forgets it (an empty
        # retained message clears a retained one), all but its status, which says it left.
        forget = [eye_topic(self.prefix, eye, what) for what in sorted(changes.retained if changes else ())]
        if self.settings.discovery:
            forget += config_topics(self.settings.discovery_prefix, self.prefix, eye)
        for topic in forget:
            self._put(_Message(topic, b"", True))

    def output(self, eye: str, output: Output) -> None:
        changes = self.eyes.get(eye)
        if changes is None:
            return
        for change in changes.see(output):
            payload = b"" if change.payload is None else json.dumps(change.payload).encode()
            self._put(_Message(eye_topic(self.prefix, eye, change.what), payload, change.retain, change.file))

    def view(self) -> dict:
        """What /brain shows of the house's link."""
        return {
            "broker": self.settings.url,
            "state": self.state,
            "detail": self.detail,
            "queued": len(self.queue),
        }

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
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        """Connect, publish and listen until close(); reconnect whenever the broker goes."""
        failures, told = 0, ""
        while not self.closing:
            try:
                async with self._client() as client:
                    log.info("MQTT: connected to %s%s", self.settings.url, " at last" if told else "")
                    failures, told = 0, ""
                    self.state, self.detail = "connected", ""
                    self.metrics.mqtt_connected.set(1)
                    await self._serve(client)
            except Exception as error:  # (MqttError; anything else is a fault of ours: logged, and retried)
                if not isinstance(error, aiomqtt.MqttError):
                    log.exception("MQTT: the link failed; reconnecting")
                failures += 1
                refused = credentials_refused(error)
                was = self.state
                self.state = "refused" if refused else "unreachable"
                self.detail = str(error)
                self.metrics.mqtt_connected.set(0)
                wait = retry_after(failures, refused, self.settings)
                if refused and told != "refused":
                    log.error(
                        "MQTT: the broker at %s refused the user name or password (%s; from the environment "
                        "variables %s and %s): set them right and restart the brain. Trying again every %g s, quietly.",
                        self.settings.url,
                        error,
                        self.settings.user_env,
                        self.settings.password_env,
                        wait,
                    )
                    told = "refused"
                elif not refused and not told:
                    lost = "lost the broker at" if was == "connected" else "cannot reach the broker at"
                    log.warning(
                        "MQTT: %s %s (%s); the brain serves on without it, keeps up to %d messages for it, "
                        "and connects when it is back (tries every %g–%g s).",
                        lost,
                        self.settings.url,
                        error,
                        self.settings.max_queued,
                        self.settings.reconnect_min_s,
                        self.settings.reconnect_max_s,
                    )
                    told = "unreachable"
                try:
                    async with asyncio.timeout(wait):
                        while not self.closing:
                            self.wake.clear()
                            await self.wake.wait()
                except TimeoutError:
                    pass

    async def close(self, within_s: float = 2.0) -> None:
        """Send what waits (the eyes' goodbyes), say the brain is offline, and disconnect;
        give up after `within_s` (a broker that is away hears it from the last will)."""
        self.closing = True
        self.wake.set()
        try:
            async with asyncio.timeout(within_s):
                await asyncio.shield(self.task)
        except TimeoutError:
            log.warning("MQTT: %d messages were still waiting for the broker as the brain stopped", len(self.queue))
            self.task.cancel()
        except aiomqtt.MqttError:
            pass

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca or None) if self.tls else None
        return aiomqtt.Client(
            self.host,
            self.port,
            username=os.environ.get(s.user_env) or None,
            password=os.environ.get(s.password_env) or None,
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
                    self.unsent = self.queue.pop()
                await self._publish(client, self.unsent)  # (an MqttError leaves it for the next connection)
                self.unsent = None
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
            where = inbound(self.prefix, str(message.topic))
            if where is None:
                continue
            eye, what = where
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            if what == "status":
                if message.retain and payload == b"online" and eye not in self.eyes:
                    # (left "online" by a brain that died, or a goodbye the full queue dropped)
                    self._put(_Message(eye_topic(self.prefix, eye, "status"), b"offline", True))
                continue
            if eye not in self.eyes:
                self._dropped(str(message.topic), f"no eye named {eye!r} is connected", "unknown_eye")
                continue
            result = command(what, payload, self.settings.max_say_chars)
            if isinstance(result, str):
                self._dropped(str(message.topic), result, "bad_command")
            else:
                self.obey(eye, result)

    def _dropped(self, topic: str, why: str, reason: str) -> None:
        self.metrics.mqtt_dropped.labels(reason).inc()
        now = time.monotonic()
        self._drop_logs = [t for t in self._drop_logs if now - t < 60]
        if len(self._drop_logs) < _DROP_LOGS_PER_MIN:
            self._drop_logs.append(now)
            log.warning("MQTT: dropped a message on %s: %s", topic, why)
