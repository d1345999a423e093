"""Every change the brain makes to thespian's internals, in one place.

thespian is pinned (pyproject.toml) because each patch below replaces or wraps one of its
functions or attributes by name: on another version a patch could silently do nothing,
and a hole it closes would be open again. `check_version()` refuses to start on any other
version, with a sentence saying which it found and which it needs.

All are applied in the brain process before the actor system forks (`apply_patches`,
called by brain/actor_system.py), so the admin and every actor inherit them. Our own
classes that the patches install live beside what they protect: the signed pickle and
the frame buffer in brain/actor_network.py, the private log file in brain/actor_system.py.
tests/test_thespian_patches.py checks that each patch is applied and names the test that
checks it by its effect.
"""

from __future__ import annotations

import builtins
import ipaddress
import logging
import os
import pickle
import socket
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from brain.actor_network import (
    BadSignature,
    FrameBuffer,
    MalformedFrame,
    MessageTooBig,
    NetworkGuard,
    SignedPickle,
    Strangers,
)

__all__ = [
    "PINNED_VERSION",
    "PATCHES",
    "Patch",
    "ThespianVersionError",
    "apply_patches",
    "check_version",
    "log_thespian_to",
]

log = logging.getLogger(__name__)

#: The thespian these patches were written against and measured on.
PINNED_VERSION = "4.0.1"


@dataclass(frozen=True)
class Patch:
    name: str
    wraps: str  # the thespian function or attribute it replaces or wraps
    target: str  # what apply_patches assigns (the same, or where thespian looks the wrapped thing up)
    what: str
    why: str
    tested_by: str  # the test (tests/…::name) that checks its effect


PATCHES: tuple[Patch, ...] = (
    Patch(
        "bind",
        "thespian.system.transport.IPBase.IPActorAddress.__init__",
        "thespian.system.transport.IPBase.IPActorAddress.__init__",
        "an actor socket binds the advertised host (actors.host) instead of ('', port)",
        "thespian binds every interface and merely advertises THESPIAN_BASE_IPADDR: anyone who "
        "could reach a port could make an actor unpickle what they sent",
        "tests/test_security.py::test_every_actor_socket_listens_on_loopback_only",
    ),
    Patch(
        "allow-list",
        "thespian.system.transport.TCPTransport.TCPTransport.new_socket",
        "thespian.system.transport.TCPTransport.TCPTransport.new_socket",
        "an accepted connection from an address not allowed is closed before a byte is read; "
        "an outgoing one leaves from actors.host",
        "peers must see the address they allow, and a stranger must not be read at all",
        "tests/test_scale_out.py::test_a_peer_not_allowed_is_turned_away_before_anything_is_read",
    ),
    Patch(
        "survive accept errors",
        "thespian.system.transport.TCPTransport.TCPTransport._acceptNewIncoming",
        "thespian.system.transport.TCPTransport.TCPTransport._acceptNewIncoming",
        "drops the Thespian__UpdateWork marker that a failed accept() queues among received envelopes",
        "the run loop handed it to the actor as a message and the admin died of it (AttributeError): "
        "one connect() from a stranger ended the brain in ~1.5 s",
        "tests/test_security.py::test_a_stranger_connecting_is_refused_and_the_brain_lives_on",
    ),
    Patch(
        "frame buffer",
        "thespian.system.transport.TCPTransport.ReceiveBuffer",
        "thespian.system.transport.TCPTransport.ReceiveBuffer",
        "a frame must begin with its size within 20 bytes, a size over actors.max_message_bytes is "
        "refused unread, and the body is read into one buffer",
        "a stream without '>' was read 20 bytes at a time forever (3 MB kept a cortex busy for "
        "minutes), and an announced 2 GB message was buffered before any check (256 MB held)",
        "tests/test_security.py::test_bytes_without_a_size_are_cut_after_a_few_and_the_brain_lives_on",
    ),
    Patch(
        "bad acknowledgements",
        "thespian.system.transport.TCPTransport.TCPTransport._check_XMIT_4_done",
        "thespian.system.transport.TCPTransport.TCPTransport._check_XMIT_4_done",
        "an answer to a sent message that the frame buffer or the signature refuses fails that send at "
        "once (thespian's own end of a send after its last retry): its socket closed, its slot freed, "
        "its sender told",
        "the refusal escaped into thespian's catch-all, which dropped the send unfinished: never retried, "
        "never reported, and one of the actor's 20 in-flight sends held for good; after 20 such answers "
        "(from an allowed peer, or a process on a dead actor's port) that actor, the admin too, sent nothing more",
        "tests/test_thespian_patches.py::test_answers_that_are_not_acknowledgements_leave_the_member_sending",
    ),
    Patch(
        "strangers' bytes",
        "thespian.system.transport.TCPTransport.TCPIncoming_Common.__init__",
        "thespian.system.transport.TCPTransport.TCPIncoming_Common.__init__",
        "connections that have not yet delivered a signed message share actors.max_unauthenticated_bytes; "
        "over it, the largest is dropped",
        "ten connections holding 14 MB of an announced 15 MB kept the admin at 180 MB",
        "tests/test_security.py::test_unauthenticated_connections_hold_a_bounded_total",
    ),
    Patch(
        "signed pickle",
        "thespian.system.transport.TCPTransport.serializer",
        "thespian.system.transport.TCPTransport.serializer",
        "every message carries an HMAC-SHA256 of its pickle under the actor secret, checked before pickle.loads",
        "thespian has no authentication: an unsigned pickle from any allowed address runs code in the brain",
        "tests/test_scale_out.py::test_a_message_without_the_secret_is_never_unpickled",
    ),
    Patch(
        "private log file",
        "thespian.system.utilis.thesplog",
        "thespian.system.utilis.open",
        "thesplog opens its file without following a link, 0600, in the brain's private directory",
        "thespian appended to $TMPDIR/thespian.log (0644) through any link another user had planted there",
        "tests/test_private_files.py::test_a_planted_thespian_log_link_is_never_followed_and_the_brain_lives_on",
    ),
    Patch(
        "convention timing",
        "thespian.system.admin.convention.CONVENTION_RESTART_PERIOD",
        "thespian.system.admin.convention.CONVENTION_REREGISTRATION_PERIOD",
        "a joined host re-registers every 20 s (CONVENTION_REREGISTRATION_PERIOD in the environment "
        "overrides it), both periods together",
        "thespian's 7 min 22 s kept a restarted leader waiting that long for its hosts, and with only "
        "one period changed every joined host was dropped ~80 s after joining",
        "tests/test_scale_out.py::test_the_holder_runs_on_the_host_that_offers_what_it_requires",
    ),
    Patch(
        "logger restart",
        "thespian.system.multiprocCommon.MultiProcAdmin.childDied",
        "thespian.system.multiprocCommon.MultiProcAdmin.logDefs",
        "the admin finds the log definitions it restarts a dead logger process with",
        "thespian 4.0.1 never sets them: killing the logger ended the brain in 1.8 s (AttributeError)",
        "tests/test_supervision.py::test_a_killed_logger_is_restarted_and_the_brain_lives_on",
    ),
)


class ThespianVersionError(RuntimeError):
    """The installed thespian is not the one the patches were written for."""


def check_version(found: str | None = None) -> None:
    """Refuse any thespian but the pinned one, with a sentence for the person."""
    if found is None:
        try:
            found = metadata.version("thespian")
        except metadata.PackageNotFoundError:
            found = "none"
    if found != PINNED_VERSION:
        raise ThespianVersionError(
            f"the brain needs thespian {PINNED_VERSION}, and found {found}: its patches to thespian's "
            f"internals (brain/thespian_patches.py) were written for {PINNED_VERSION} only. Run "
            f"`make setup` (or `pip install thespian=={PINNED_VERSION}`) and start the brain again."
        )


def apply_patches(guard: NetworkGuard, log_file: Path, log_defs: dict, reregistration_period: str) -> None:
    """Apply every patch in PATCHES; call before the ActorSystem starts (it forks)."""
    from thespian.system import utilis
    from thespian.system.admin import convention
    from thespian.system.multiprocCommon import MultiProcAdmin
    from thespian.system.transport import IPBase, TCPTransport

    check_version()
    # (Not a patch: thespian's own setting of the address it advertises.)
    os.environ["THESPIAN_BASE_IPADDR"] = guard.host
    _bind_to(IPBase.IPActorAddress, guard.host)
    _guard_connections(TCPTransport.TCPTransport, guard.host, guard.networks())
    _survive_accept_errors(TCPTransport.TCPTransport)
    strangers = Strangers(guard.max_unauthenticated_bytes)

    def any_peer(deserialize=pickle.loads) -> FrameBuffer:  # (thespian's acknowledgements use the default)
        return FrameBuffer(deserialize, guard.max_message_bytes)

    def stranger(deserialize) -> FrameBuffer:
        return FrameBuffer(deserialize, guard.max_message_bytes, strangers)

    TCPTransport.ReceiveBuffer = any_peer
    _survive_bad_acknowledgements(TCPTransport.TCPTransport)
    _count_strangers(TCPTransport.TCPIncoming_Common, stranger)
    TCPTransport.serializer = SignedPickle(guard.secret)

    log_thespian_to(log_file)

    period = utilis.str_to_timedelta(reregistration_period)
    convention.CONVENTION_REREGISTRATION_PERIOD = period  # (the module reads them at each use)
    convention.CONVENTION_RESTART_PERIOD = period

    MultiProcAdmin.logDefs = log_defs  # (a class attribute: the admin is forked from here)


def log_thespian_to(path: Path) -> None:
    """thespian's own log (its warnings: failed sends, refused frames; renamed to .old at
    THESPLOG_FILE_MAXSIZE, 50 KB) goes to `path`, opened as _append_privately says."""
    from thespian.system import utilis

    os.environ["THESPLOG_FILE"] = str(path)
    utilis._thesplog_file = None  # (thespian reads the variable at its first line, then keeps it)
    utilis.open = _append_privately  # (thesplog's `open` is looked up in its module first)


def _bind_to(address_class, host: str) -> None:
    original_init = getattr(address_class, "_cortical_original_init", address_class.__init__)

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        # thespian binds ('', port) for "external" addresses; bind the advertised
        # host instead when it is ours, so other interfaces do not listen at all.
        if self.sockname[0] == host:
            self.bindname = self.sockname

    address_class.__init__ = __init__
    address_class._cortical_original_init = original_init


def _guard_connections(transport_class, host: str, networks: list) -> None:
    original_new_socket = getattr(transport_class, "_cortical_original_new_socket", transport_class.new_socket)

    def new_socket(self, op, *args, **kwargs):
        result = original_new_socket(self, op, *args, **kwargs)
        if op is socket.socket:
            # An outgoing connection: from `host`, so that peers see the address they
            # allow (a machine with several addresses would otherwise pick by route).
            result.bind((host, 0))
        elif getattr(op, "__name__", "") == "accept":
            connection, (peer, _) = result[0], result[1][:2]
            if not any(ipaddress.ip_address(peer) in network for network in networks):
                connection.close()
                log.warning(
                    "refused an actor-network connection from %s: not this host and not in [actors] allowed_peers", peer
                )
                # thespian's accept loop logs an OSError (see _survive_accept_errors).
                raise ConnectionRefusedError(f"actor-network peer {peer} is not allowed")
        return result

    transport_class.new_socket = new_socket
    transport_class._cortical_original_new_socket = original_new_socket


def _survive_accept_errors(transport_class) -> None:
    from thespian.system.transport import Thespian__UpdateWork

    original_accept = getattr(transport_class, "_cortical_original_accept", transport_class._acceptNewIncoming)

    def _acceptNewIncoming(self):
        before = len(self._incomingEnvelopes)
        original_accept(self)
        added = self._incomingEnvelopes[before:]
        if any(isinstance(envelope, Thespian__UpdateWork) for envelope in added):
            self._incomingEnvelopes[before:] = [e for e in added if not isinstance(e, Thespian__UpdateWork)]

    transport_class._acceptNewIncoming = _acceptNewIncoming
    transport_class._cortical_original_accept = original_accept


def _survive_bad_acknowledgements(transport_class) -> None:
    """After sending, thespian reads the peer's acknowledgement into a frame buffer
    (ours) and calls addMore and completed() with no try of its own: a refusal there
    reached `_nextTransmitStep`'s catch-all, which abandons the send without finishing it
    (no retry, no failure callback, its in-flight slot never given back).

    The send fails at once rather than backing off and retrying, as thespian does with a
    garbled acknowledgement: over TCP such an answer means a peer that does not speak this
    network, and will not on the next try. Measured with a fake leader and re-registration
    every second: retries sent it 223 messages in 28 s and their ~21 tries each held all
    20 in-flight slots, so the member's stop was left to the lifeline; failing at once, 18
    messages and a clean stop."""
    from thespian.system.transport import SendStatus

    original_check = getattr(transport_class, "_cortical_original_check_ack", transport_class._check_XMIT_4_done)

    def _check_XMIT_4_done(self, intent, rcv):
        try:
            return original_check(self, intent, rcv)
        except (MalformedFrame, MessageTooBig, BadSignature) as refused:
            log.warning(
                "%s answered a message with something other than an acknowledgement (%s): the send "
                "failed; it does not speak this brain's actor network (or lacks its secret)",
                intent.targetAddr,
                refused,
            )
            return self._finishIntent(intent, SendStatus.Failed)

    transport_class._check_XMIT_4_done = _check_XMIT_4_done
    transport_class._cortical_original_check_ack = original_check


def _count_strangers(incoming_class, stranger_buffer) -> None:
    """A connection thespian accepts starts with an address it does not know yet
    (``ActorAddress(None)``) and learns it from the first signed message; a reused one
    is made with the address it learned. Give the former a buffer counted with the
    strangers'."""
    from thespian.system.transport import TCPTransport

    original_init = getattr(incoming_class, "_cortical_original_init", incoming_class.__init__)

    def __init__(self, rmtAddr, baseSock, rcvBuf=None):
        if rcvBuf is None and getattr(rmtAddr, "addressDetails", None) is None:
            rcvBuf = stranger_buffer(TCPTransport.serializer.loads)
        original_init(self, rmtAddr, baseSock, rcvBuf)

    incoming_class.__init__ = __init__
    incoming_class._cortical_original_init = original_init


def _append_privately(file, mode: str = "a", *args, **kwargs):
    """thesplog's `open(file, "a")`: never through a symbolic link, readable by this user only
    (thespian's made the file 0644, and its rotation a new one)."""
    if mode != "a":
        return builtins.open(file, mode, *args, **kwargs)
    fd = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:  # (made by an older brain)
            os.fchmod(fd, 0o600)
    except OSError:
        pass
    return os.fdopen(fd, "a")
