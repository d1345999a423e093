"""A real MQTT broker for tests and benchmarks (Debian's Mosquitto on a free loopback port,
with or without a password), and a listener that keeps every message it hears."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from harness.brains import free_port
from harness.waits import wait_until

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Mosquitto:
    """`mosquitto` on 127.0.0.1:`port` (a free one by default), stopped with stop() or kill();
    start() again brings it back on the same port. With `user`, only that user and password
    are let in."""

    def __init__(
        self,
        tmp: Path,
        port: int | None = None,
        user: tuple[str, str] | None = None,
        persist: bool = False,
        tls: tuple[Path, Path] | None = None,
    ):
        self.port = port or free_port()
        self.tmp = tmp
        self.conf = tmp / "mosquitto.conf"
        self.db = tmp / "mosquitto.db"
        # (as root it would switch to the user mosquitto, which cannot write in a test's folder;
        # as anyone else `user` does nothing)
        lines = [f"listener {self.port} 127.0.0.1", f"log_dest file {tmp / 'mosquitto.log'}", "log_type all",
                 "connection_messages true", "user root"]  # fmt: skip
        # With `persist`, sessions and subscriptions are saved every second: a killed broker
        # comes back with them, and queues for a listener what arrives before it reconnects.
        lines += (
            [f"persistence true\npersistence_location {tmp}/\nautosave_interval 1"]
            if persist
            else ["persistence false"]
        )
        self.tls_port = 0
        if tls:  # a second listener, mqtts:// with this certificate and key (the plain one stays)
            self.tls_port = free_port()
            lines += [f"listener {self.tls_port} 127.0.0.1", f"certfile {tls[0]}", f"keyfile {tls[1]}"]
        if user:
            passwords = tmp / "passwords"
            subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), *user], check=True, capture_output=True)
            passwords.chmod(0o600)
            lines += [f"password_file {passwords}", "allow_anonymous false"]
        else:
            lines.append("allow_anonymous true")
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        if (
            not wait_until(lambda: self._listening() or self.proc.poll() is not None, 10)
            or self.proc.poll() is not None
        ):
            raise RuntimeError(f"mosquitto did not start on port {self.port}: {self.proc.stderr.read().decode()}")

    def _listening(self) -> bool:
        import socket

        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        path = self.tmp / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def saved(self, since: float) -> bool:
        """Whether a persisting broker has saved its state (sessions, subscriptions) since `since`."""
        return self.db.exists() and self.db.stat().st_mtime > since

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@dataclass(frozen=True)
class Heard:
    topic: str
    payload: bytes
    retain: bool
    at: float


class Listener:
    """A paho client subscribed to `topics` on `broker`, keeping what it hears; it can also
    publish, as the house would."""

    def __init__(self, broker: Mosquitto, topics: list[str], session: str = ""):
        """`session`: a persistent session by that client id (the broker keeps what it misses
        while away, and it reconnects by itself), else a clean one."""
        self.heard: list[Heard] = []
        self.lock = threading.Lock()
        self.subscribed_at = 0.0
        if session:
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=session, clean_session=False)
        else:
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.on_message = self._on_message
        self.subscribed = threading.Event()
        self.client.on_connect = lambda client, *_: client.subscribe([(topic, 1) for topic in topics])
        self.client.on_subscribe = self._on_subscribe
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise RuntimeError("the listener could not subscribe")

    def _on_subscribe(self, *_) -> None:
        self.subscribed_at = time.time()
        self.subscribed.set()

    def _on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.heard.append(Heard(message.topic, bytes(message.payload), bool(message.retain), time.monotonic()))

    def on(self, topic: str) -> list[Heard]:
        with self.lock:
            return [h for h in self.heard if h.topic == topic]

    def last(self, topic: str) -> Heard | None:
        found = self.on(topic)
        return found[-1] if found else None

    def wait_for(self, topic: str, payload=None, timeout: float = 30) -> Heard:
        """The first message on `topic` (whose payload is `payload`, or passes it if callable)."""

        def match(heard: Heard) -> bool:
            if payload is None:
                return True
            return payload(heard.payload) if callable(payload) else heard.payload == payload

        def found() -> list[Heard]:
            return [h for h in self.on(topic) if match(h)]

        if not wait_until(lambda: bool(found()), timeout, 0.05):
            with self.lock:
                tail = [(h.topic, h.payload[:80]) for h in self.heard[-8:]]
            raise TimeoutError(f"nothing on {topic} in {timeout} s; last heard: {tail}")
        return found()[0]

    def wait_for_count(self, topic: str, count: int, timeout: float = 30) -> None:
        """Until `count` messages have come on `topic`."""
        if not wait_until(lambda: len(self.on(topic)) >= count, timeout, 0.001):
            raise TimeoutError(f"{len(self.on(topic))} of {count} messages on {topic} in {timeout} s")

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def retained(broker: Mosquitto, topic: str, timeout: float = 5) -> bytes | None:
    """What the broker keeps retained on `topic` now, as a new subscriber hears it (None: nothing)."""
    listener = Listener(broker, [topic])
    try:
        wait_until(lambda: bool(listener.on(topic)), timeout, 0.05)
        found = listener.on(topic)
        return found[0].payload if found and found[0].retain else None
    finally:
        listener.close()
