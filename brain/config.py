"""The brain's config file (TOML): server, actor system, eye and the cortex topology.

Every limit the brain enforces is a named value here, with a sane default.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from actors.cortex import REGISTRY, cortex_type
from actors.models.formats import FORMATS, format_of
from actors.models.recipes import RECIPES
from actors.params import ParamError, bounded, from_dict
from actors.specs import CortexSpec, HolderSettings, ModelSpec
from actors.supervision import SupervisionPolicy
from brain import listening

__all__ = ["Config", "ConfigError", "MqttConfig", "broker", "load_config", "parse_config"]

CAPABILITY = re.compile(r"[A-Za-z0-9_-]+")
TOPIC_PREFIX = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*")


class ConfigError(ValueError):
    """The config file cannot be used; the message names the file, the key and the fault."""

    def __init__(self, path: str, key: str, problem: str):
        super().__init__(f"{path}: {key}: {problem}")
        self.path, self.key, self.problem = path, key, problem


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = bounded(8080, minimum=0, maximum=65535)
    #: A bigger message gets an `error` output; the connection stays up.
    max_message_bytes: int = bounded(2_000_000, minimum=1024)
    #: JSON nested deeper than this gets an `error` output (a command's arguments).
    max_json_depth: int = bounded(32, minimum=2, maximum=200)
    #: A message bigger than this closes the connection (1009) without being read whole.
    close_over_bytes: int = bounded(8_000_000, minimum=1024)
    #: Outputs waiting for an eye that does not read, by count and by bytes; the oldest
    #: are dropped beyond either. An eye that takes no output for send_timeout_s is
    #: disconnected (its queue would otherwise hold memory for nobody).
    outbound_queue: int = bounded(256, minimum=1)
    outbound_queue_bytes: int = bounded(4_000_000, minimum=65536)
    send_timeout_s: float = bounded(20.0, minimum=1.0)
    #: Bytes of one eye's messages on their way to its actors; beyond this the brain reads
    #: no more from that eye until they arrive (TCP then slows the eye down).
    max_inflight_bytes: int = bounded(8_000_000, minimum=65536)
    #: How long a new connection may wait for its Session actor.
    session_start_timeout_s: float = bounded(10.0, minimum=0.1)
    #: The next connection is refused (close 1013, with the reason) beyond this many eyes.
    max_eyes: int = bounded(50, minimum=1)
    #: The longest eye name a page may give (/?eye=kitchen); names go into MQTT topics.
    max_eye_name_chars: int = bounded(32, minimum=1, maximum=64)
    #: Per eye: snapshots and other messages a second (bursts of twice that pass).
    max_frames_per_s: float = bounded(15.0, minimum=0.1)
    max_messages_per_s: float = bounded(50.0, minimum=0.1)
    #: Websocket pings an eye may send a second (bursts of twice that); beyond, it is
    #: closed (1008). Browsers send none.
    max_pings_per_s: float = bounded(5.0, minimum=0.1)
    #: Keepalive pings, and how long an eye may stay silent before it is disconnected.
    ping_interval_s: float = bounded(20.0, minimum=1.0)
    ping_timeout_s: float = bounded(20.0, minimum=1.0)
    idle_timeout_s: float = bounded(300.0, minimum=1.0)
    #: Pages allowed to open /ws (the Origin header). Empty: only pages served by this
    #: brain itself (the Origin must match the Host). Clients that send no Origin (not
    #: browsers) are let in; the token below is what keeps them out.
    allowed_origins: list[str] = bounded([])
    #: Names (besides IP addresses and localhost) this brain answers to in the Host
    #: header, e.g. "brain.home.arpa"; any other name is refused (DNS rebinding).
    allowed_hosts: list[str] = bounded([])
    #: Environment variable holding a token eyes must present (?token=… or a first
    #: message {"token": "…"}); unset or empty: no token needed.
    token_env: str = "CORTICAL_EYE_TOKEN"
    #: TLS: with both set, the page and /ws are served as https:// and wss://.
    cert: str = ""
    key: str = ""
    #: The longest request target (path and query); a longer one gets 414 with a sentence.
    max_url_chars: int = bounded(2048, minimum=256, maximum=8000)
    #: The most pixels an image's header may state (4096×4096); a bigger one is refused at
    #: the gateway, before any cortex decodes it (a PNG cannot be decoded at a smaller scale).
    max_image_pixels: int = bounded(16_777_216, minimum=65_536)
    #: The largest magnitude of any number in an eye's JSON (JavaScript's largest exact
    #: integer); a bigger one, NaN or Infinity gets an `error` output naming its field.
    max_number: int = bounded(2**53 - 1, minimum=1000)
    #: Files (the page, its scripts, /models/…) being sent at once, in all and to one
    #: client address; each is streamed from disk with backpressure (the gateway holds a
    #: file descriptor, the kernel up to ~3.7 MB of socket buffer for a client that stalls),
    #: and the next one gets 503 with a sentence. A browser opens ~6 connections at once.
    max_downloads: int = bounded(64, minimum=1, maximum=10_000)
    max_downloads_per_client: int = bounded(8, minimum=1, maximum=10_000)
    #: A connection must have sent its request and had the answer to its websocket
    #: handshake within open_timeout_s (also the TLS handshake's limit); a file must be
    #: sent whole within download_timeout_s (4.65 MB in 300 s: ~124 kbit/s at the least).
    open_timeout_s: float = bounded(10.0, minimum=0.1, maximum=600.0)
    download_timeout_s: float = bounded(300.0, minimum=1.0, maximum=86_400.0)
    #: With an eye token set: whether /metrics and /health need it too (?token=… or
    #: "Authorization: Bearer …"). /metrics names cortexes, eyes and refusals; /health
    #: only says the brain is up, which monitors must see without a secret.
    metrics_need_token: bool = True
    health_needs_token: bool = False


@dataclass(frozen=True)
class ActorsConfig:
    #: The only address the actor system listens on (never every interface). Keep it on
    #: loopback unless other machines join; then name a private interface's address.
    host: str = "127.0.0.1"
    admin_port: int = bounded(1900, minimum=1, maximum=65535)
    #: Threads sending from the gateway to actors. thespian's tell() waits for the
    #: actor's acknowledgement, so more lanes carry more eyes at once (see README).
    send_lanes: int = bounded(4, minimum=1, maximum=64)
    #: Addresses or networks (CIDR) of the other machines of the convention; connections
    #: from anywhere else (but `host` itself) are closed before anything is read.
    allowed_peers: list[str] = bounded([])
    #: Environment variable holding the secret every actor message is signed with; the
    #: same on every machine. Required when `host` is not loopback; unset on loopback,
    #: a fresh random one is used (no other process can talk to this brain's actors).
    secret_env: str = "CORTICAL_ACTOR_SECRET"
    #: Joined hosts are pinged this often; one silent this long is lost and its model
    #: holders are re-created elsewhere.
    heartbeat_every_s: float = bounded(0.5, minimum=0.05, maximum=60.0)
    host_dead_after_s: float = bounded(2.0, minimum=0.2, maximum=600.0)
    #: A joined host that has not been pinged this long ends the model holders its
    #: leader placed there (freeing their memory) and joins afresh, so that a restarted
    #: leader finds it again.
    leader_lost_after_s: float = bounded(10.0, minimum=0.5, maximum=3600.0)
    #: The largest actor message a peer may send (the biggest is an eye's message passed
    #: on whole); a bigger one is refused as soon as its size is announced, unread.
    max_message_bytes: int = bounded(16 << 20, minimum=1 << 20)
    #: What the connections to one actor that have not yet delivered a signed message
    #: may hold, together (any allowed address may connect and announce a size; only a
    #: whole message can be checked). Over it, the largest are dropped: their bytes freed at
    #: once, their sockets closed when their peers next send (or thespian expires them, 7 min).
    max_unauthenticated_bytes: int = bounded(32 << 20, minimum=1 << 20)


@dataclass(frozen=True)
class EyeConfig:
    #: Sent to the page when the brain is ready.
    snapshot_every_ms: int = bounded(1000, minimum=50)
    snapshot_max_width: int = bounded(640, minimum=32, maximum=4096)
    jpeg_quality: float = bounded(0.8, minimum=0.1, maximum=1.0)
    #: The edge gate: "change" sends a snapshot only when the scene moved (or to keep
    #: alive); "off" sends every one. README, "The edge gate".
    gate: str = bounded("off", choices=("off", "change"))
    change_threshold: float = bounded(0.03, minimum=0.001, maximum=1.0)  # mean pixel change, 0–1
    hold_s: float = bounded(1.0, minimum=0.0, maximum=30.0)  # keep sending this long after a change
    keep_alive_s: float = bounded(5.0, minimum=0.5, maximum=3600.0)  # at least one snapshot this often
    gate_width: int = bounded(32, minimum=8, maximum=256)  # the change test's downscaled width
    #: Privacy mode: the page runs the pose model itself and sends keypoints, never a picture.
    privacy: bool = False
    #: … and, for face recognition, a JPEG of each face found in the page (nothing else).
    privacy_face_crops: bool = False


@dataclass(frozen=True)
class EventsConfig:
    #: POST /events on its own port: a door for other senses to speak to the eyes.
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = bounded(8081, minimum=0, maximum=65535)
    #: The environment variable holding the bearer token; unset → every event is refused.
    token_env: str = "CORTICAL_EVENTS_TOKEN"
    max_text_chars: int = bounded(1000, minimum=1)
    max_body_bytes: int = bounded(16384, minimum=256)


#: What an eye's outputs may be published as on MQTT (docs/home.md): the changes that matter.
MQTT_KINDS = (
    "label",
    "faces",
    "pose",
    "emotion",
    "gesture",
    "reaction",
    "class",
    "alert",
    "favourite",
    "mention",
    "event",
)


@dataclass(frozen=True)
class MqttConfig:
    """MQTT and Home Assistant (docs/home.md). No url: nothing is published."""

    #: mqtt://host:port or mqtts://host:port (1883 and 8883 by default); "" = off.
    url: str = ""
    #: For mqtts://: the CA file that signed the broker's certificate ("" = the system's).
    ca: str = ""
    #: Environment variables holding the user name and password (unset: none sent).
    user_env: str = "CORTICAL_MQTT_USER"
    password_env: str = "CORTICAL_MQTT_PASSWORD"
    #: Topics are <topic_prefix>/status and <topic_prefix>/<eye>/<kind>.
    topic_prefix: str = "cortical"
    #: Home Assistant discovery: each eye a device, its configs retained under this prefix.
    discovery: bool = True
    discovery_prefix: str = "homeassistant"
    #: The output kinds published (each only when it changes what the house would know).
    publish: list[str] = bounded(list(MQTT_KINDS), choices=MQTT_KINDS)
    qos: int = bounded(1, choices=(0, 1, 2))
    #: Messages waiting while the broker is away, by count and bytes; the oldest are dropped
    #: beyond either (counted in /metrics as cortical_mqtt_dropped_total).
    max_queued: int = bounded(1000, minimum=1, maximum=1_000_000)
    max_queued_bytes: int = bounded(16_000_000, minimum=65_536)
    #: Reconnecting: the first wait, doubled up to the longest (also the pace after the
    #: broker refused the credentials, quietly).
    reconnect_min_s: float = bounded(1.0, minimum=0.05, maximum=600.0)
    reconnect_max_s: float = bounded(30.0, minimum=0.1, maximum=3600.0)
    keepalive_s: int = bounded(30, minimum=5, maximum=3600)
    #: The longest text a `say` from the house may carry.
    max_say_chars: int = bounded(1000, minimum=1, maximum=100_000)
    #: Nobody counted this long (the camera closed; a pose cortex says nothing of nobody):
    #: the eye's people count goes to 0. More than eye.keep_alive_s (a still camera's pace).
    people_stale_s: float = bounded(10.0, minimum=1.0, maximum=3600.0)


@dataclass(frozen=True)
class HolderConfig:
    #: Requests for one model that arrive within max_wait_ms run as one batch, up to max_batch.
    max_batch: int = bounded(4, minimum=1, maximum=256)
    max_wait_ms: float = bounded(0.0, minimum=0.0, maximum=1000.0)
    #: After two holders in a row die before loading, wait this long, then twice as long each time.
    restart_delay_s: float = bounded(2.0, minimum=0.0, maximum=60.0)

    def settings(self, actors: ActorsConfig) -> HolderSettings:
        return HolderSettings(
            self.max_batch,
            self.max_wait_ms,
            self.restart_delay_s,
            actors.heartbeat_every_s,
            actors.host_dead_after_s,
            actors.leader_lost_after_s,
        )


@dataclass(frozen=True)
class Config:
    path: str
    server: ServerConfig = field(default_factory=ServerConfig)
    actors: ActorsConfig = field(default_factory=ActorsConfig)
    eye: EyeConfig = field(default_factory=EyeConfig)
    holder: HolderConfig = field(default_factory=HolderConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    supervision: SupervisionPolicy = field(default_factory=SupervisionPolicy)
    models: tuple[ModelSpec, ...] = ()
    cortexes: tuple[CortexSpec, ...] = ()

    @property
    def published_kinds(self) -> frozenset[str]:
        """The output kinds that may reach MQTT with this topology (its cortexes' and events')."""
        emitted = {kind for spec in self.cortexes for kind in cortex_type(spec.type).emits}
        return frozenset(self.mqtt.publish) & (emitted | {"event"})

    @property
    def commands(self) -> frozenset[str] | None:
        """The commands the cortexes that take commands understand (None: any command)."""
        known: set[str] = set()
        for spec in self.cortexes:
            if "command" in spec.subscribes:
                understood = cortex_type(spec.type).commands
                if understood is None:
                    return None
                known.update(understood)
        return frozenset(known)


@dataclass(frozen=True)
class _CortexStanza:
    name: str
    type: str
    subscribes: list[str] = bounded([])  # kinds an eye sends, or other cortexes emit (brain/listening.py)
    params: dict = field(default_factory=dict)
    #: "connect": its process starts with its eye; "first_stimulus": at the first stimulus it
    #: takes (one that pushes unasked, a ticker or a mentions poller, still starts with its eye).
    start: str = bounded("first_stimulus", choices=("connect", "first_stimulus"))


@dataclass(frozen=True)
class _ModelStanza:
    name: str
    kind: str = bounded("nanodet", choices=tuple(RECIPES))
    path: str = ""
    format: str = bounded("", choices=("", *FORMATS))  # "": from the path's name
    requires: list[str] = bounded([])  # what its holder's host must offer (`brain join --capabilities`)
    #: "start": loaded with its holder; "first_use": at the first request for it (a model few
    #: eyes use, such as teach projects' image features, costs no memory until then).
    load: str = bounded("start", choices=("start", "first_use"))


_SECTIONS = {
    "server": ServerConfig,
    "actors": ActorsConfig,
    "eye": EyeConfig,
    "holder": HolderConfig,
    "events": EventsConfig,
    "mqtt": MqttConfig,
    "supervision": SupervisionPolicy,
}


def parse_config(data: dict[str, Any], path: str = "<config>") -> Config:
    """Validate a parsed TOML document; raise ConfigError naming the first fault."""
    unknown = sorted(set(data) - set(_SECTIONS) - {"cortex", "model"})
    if unknown:
        raise ConfigError(
            path,
            unknown[0],
            "unknown section (known: server, actors, eye, holder, events, mqtt, supervision, model, cortex)",
        )
    sections = {}
    try:
        for name, cls in _SECTIONS.items():
            sections[name] = from_dict(cls, data.get(name, {}), name)
    except ParamError as exc:
        raise ConfigError(path, exc.key, exc.problem) from None
    server = sections["server"]
    if bool(server.cert) != bool(server.key):
        raise ConfigError(
            path,
            "server.cert" if not server.cert else "server.key",
            "set both server.cert and server.key for TLS, or neither",
        )
    for key in ("cert", "key"):
        if getattr(server, key) and not Path(getattr(server, key)).is_file():
            raise ConfigError(path, f"server.{key}", f"{getattr(server, key)!r} is not a readable file")
    eye = sections["eye"]
    if 1000 / eye.snapshot_every_ms > server.max_frames_per_s:
        raise ConfigError(
            path,
            "eye.snapshot_every_ms",
            f"the page would send {1000 / eye.snapshot_every_ms:g} snapshots a second, more than "
            f"server.max_frames_per_s ({server.max_frames_per_s:g}); raise one or the other",
        )
    _check_actor_network(sections["actors"], path)
    _check_mqtt(sections["mqtt"], sections["eye"], path)
    if sections["actors"].max_message_bytes < 2 * server.max_message_bytes:
        raise ConfigError(
            path,
            "actors.max_message_bytes",
            f"must be at least twice server.max_message_bytes ({server.max_message_bytes}): an "
            "eye's message crosses the actor network whole, and its echo may be larger",
        )
    if server.close_over_bytes < server.max_message_bytes:
        raise ConfigError(
            path, "server.close_over_bytes", f"must be at least server.max_message_bytes ({server.max_message_bytes})"
        )
    models = _parse_models(data.get("model", []), path)
    return Config(path=path, models=models, cortexes=_parse_cortexes(data.get("cortex", []), path, models), **sections)


def _check_actor_network(actors: ActorsConfig, path: str) -> None:
    if actors.host in ("", "0.0.0.0", "::", "*"):
        raise ConfigError(
            path,
            "actors.host",
            "the actor system must not listen on every interface (anyone "
            "who reaches it can run code in the brain); name one address: 127.0.0.1, or a "
            "private interface's address when other machines join",
        )
    try:
        ipaddress.ip_address(actors.host)
    except ValueError:
        raise ConfigError(path, "actors.host", f"{actors.host!r} is not an IP address") from None
    for index, peer in enumerate(actors.allowed_peers):
        try:
            ipaddress.ip_network(peer, strict=False)
        except ValueError:
            raise ConfigError(
                path, f"actors.allowed_peers[{index}]", f"{peer!r} is not an address or a network such as 10.0.0.0/24"
            ) from None
    if actors.host_dead_after_s < 2 * actors.heartbeat_every_s:
        raise ConfigError(
            path,
            "actors.host_dead_after_s",
            f"must be at least twice actors.heartbeat_every_s ({actors.heartbeat_every_s:g} s)",
        )
    if actors.max_unauthenticated_bytes < actors.max_message_bytes:
        raise ConfigError(
            path,
            "actors.max_unauthenticated_bytes",
            f"must be at least actors.max_message_bytes ({actors.max_message_bytes}): an actor's first "
            "message on a new connection is unauthenticated until it is whole",
        )
    if actors.leader_lost_after_s <= actors.host_dead_after_s:
        raise ConfigError(
            path,
            "actors.leader_lost_after_s",
            f"must be more than actors.host_dead_after_s ({actors.host_dead_after_s:g} s): a joined "
            "host must not give its leader up before the leader gives the host up",
        )


def _check_mqtt(mqtt: MqttConfig, eye: EyeConfig, path: str) -> None:
    if not mqtt.url:
        return
    try:
        broker(mqtt.url)
    except ValueError as exc:
        raise ConfigError(path, "mqtt.url", str(exc)) from None
    if mqtt.ca and not Path(mqtt.ca).is_file():
        raise ConfigError(path, "mqtt.ca", f"{mqtt.ca!r} is not a readable file")
    for key in ("topic_prefix", "discovery_prefix"):
        if not TOPIC_PREFIX.fullmatch(getattr(mqtt, key)):
            raise ConfigError(
                path, f"mqtt.{key}", f"{getattr(mqtt, key)!r} must be letters, digits, - and _, in parts joined by /"
            )
    if mqtt.people_stale_s <= eye.keep_alive_s:
        raise ConfigError(
            path,
            "mqtt.people_stale_s",
            f"must be more than eye.keep_alive_s ({eye.keep_alive_s:g} s): a still camera's snapshots "
            "come that far apart, and the people in view would seem gone between them",
        )
    if mqtt.reconnect_max_s < mqtt.reconnect_min_s:
        raise ConfigError(
            path, "mqtt.reconnect_max_s", f"must be at least mqtt.reconnect_min_s ({mqtt.reconnect_min_s:g})"
        )


def broker(url: str) -> tuple[bool, str, int]:
    """(TLS?, host, port) of an mqtt:// or mqtts:// url; ValueError with a sentence."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"{url!r} is not like mqtt://host:1883 or mqtts://host:8883")
    if parts.username or parts.password:
        raise ValueError(
            "put no user or password in the url: name environment variables in mqtt.user_env and mqtt.password_env"
        )
    if parts.path not in ("", "/") or parts.query:
        raise ValueError(f"{url!r} has a path or query; give only mqtt://host:port")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r} has no valid port") from None
    tls = parts.scheme == "mqtts"
    return tls, parts.hostname, port or (8883 if tls else 1883)


def _stanza_label(section: str, index: int, stanza: Any) -> str:
    if isinstance(stanza, dict) and isinstance(stanza.get("name"), str):
        return f"{section}[{index}] ({stanza['name']})"
    return f"{section}[{index}]"


def _stanzas(stanzas: Any, section: str, cls: type, path: str):
    """Each `[[section]]` table checked against `cls`, as (label, parsed); names unique."""
    if not isinstance(stanzas, list):
        raise ConfigError(path, section, f"must be an array of tables: write [[{section}]] stanzas")
    names: set[str] = set()
    for index, stanza in enumerate(stanzas):
        label = _stanza_label(section, index, stanza)
        try:
            parsed = from_dict(cls, stanza, label)
        except ParamError as exc:
            raise ConfigError(path, exc.key, exc.problem) from None
        if not parsed.name.strip():
            raise ConfigError(path, f"{label}.name", "must not be empty")
        if parsed.name in names:
            plural = {"cortex": "cortexes"}.get(section, f"{section}s")
            raise ConfigError(path, f"{label}.name", f"{parsed.name!r} is used by two {plural}")
        names.add(parsed.name)
        yield label, parsed


def _parse_models(stanzas: Any, path: str) -> tuple[ModelSpec, ...]:
    specs: list[ModelSpec] = []
    for label, parsed in _stanzas(stanzas, "model", _ModelStanza, path):
        if not Path(parsed.path).exists():
            raise ConfigError(
                path,
                f"{label}.path",
                f"{parsed.path!r} does not exist (relative paths start "
                "from the brain's working directory); run `make models`",
            )
        try:
            fmt = parsed.format or format_of(parsed.path)
        except ValueError as exc:
            raise ConfigError(path, f"{label}.format", str(exc)) from None
        for index, capability in enumerate(parsed.requires):
            if not CAPABILITY.fullmatch(capability):
                raise ConfigError(
                    path,
                    f"{label}.requires[{index}]",
                    f"{capability!r} is not a capability name (letters, digits, - and _)",
                )
        requires = tuple(sorted(set(parsed.requires)))
        specs.append(ModelSpec(parsed.name, parsed.kind, parsed.path, fmt, requires, parsed.load))
    return tuple(specs)


def _parse_cortexes(stanzas: Any, path: str, models: tuple[ModelSpec, ...]) -> tuple[CortexSpec, ...]:
    specs: list[CortexSpec] = []
    labels: dict[str, str] = {}  # cortex name → its stanza's label, for the errors
    for label, parsed in _stanzas(stanzas, "cortex", _CortexStanza, path):
        labels[parsed.name] = label
        try:
            cls = cortex_type(parsed.type)
        except KeyError:
            known = ", ".join(sorted(REGISTRY))
            raise ConfigError(path, f"{label}.type", f"no cortex type {parsed.type!r} (known types: {known})") from None
        try:
            params = from_dict(cls.Params, parsed.params, f"{label}.params")
        except ParamError as exc:
            raise ConfigError(path, exc.key, exc.problem) from None
        wanted = getattr(params, "model", None)
        if wanted is not None and wanted not in {m.name for m in models}:
            known = ", ".join(m.name for m in models) or "none: add a [[model]] stanza"
            raise ConfigError(path, f"{label}.params.model", f"no [[model]] named {wanted!r} (known: {known})")
        specs.append(
            CortexSpec(
                parsed.name,
                parsed.type,
                tuple(parsed.subscribes),
                dict(parsed.params),
                _wakes_on(parsed, cls),
                _holds(parsed, cls),
            )
        )
    try:
        listening.check(
            {spec.name: spec.subscribes for spec in specs}, {spec.name: cortex_type(spec.type).emits for spec in specs}
        )
    except listening.TopologyError as exc:
        raise ConfigError(path, f"{labels[exc.cortex]}.subscribes", exc.problem) from None
    return tuple(specs)


def _wakes_on(stanza: _CortexStanza, cls) -> tuple[str, ...]:
    """The kinds whose first stimulus starts the cortex; () to start it with its eye."""
    if stanza.start == "connect" or cls.pushes:
        return ()
    wakes = [kind for kind in stanza.subscribes if cls.wakes_on is None or kind in cls.wakes_on]
    return tuple(wakes or stanza.subscribes)


def _holds(stanza: _CortexStanza, cls) -> tuple[str, ...]:
    """The kinds whose latest stimulus a waiting cortex gets when it starts."""
    wakes = _wakes_on(stanza, cls)
    return tuple(kind for kind in stanza.subscribes if wakes and kind in cls.holds and kind not in wakes)


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; raise ConfigError on any fault."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "(file)", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "(file)", f"cannot be read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "(syntax)", f"not valid TOML: {exc}") from None
    return parse_config(data, str(path))
