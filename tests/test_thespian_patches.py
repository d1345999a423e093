"""The patches to thespian's internals, as a list: each is applied, each wraps something
thespian 4.0.1 has, each names a test that checks it by its effect, and the brain refuses
any other thespian with a sentence. (The effects themselves are tested on real brains in
the files each patch names.)"""

from __future__ import annotations

import ast
import importlib
import secrets
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from brain.thespian_patches import PATCHES, PINNED_VERSION, ThespianVersionError, check_version
from harness.brains import Member
from harness.processes import admin_session, processes_in_session
from harness.waits import wait_until

ROOT = Path(__file__).resolve().parent.parent


def _resolve(dotted: str):
    """thespian.a.b.Class.attr → the object (or raise): what the patch wraps exists here."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            target = getattr(target, name)
        return target
    raise ImportError(dotted)


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_what_each_patch_wraps_exists_in_the_pinned_thespian(patch):
    assert patch.wraps.startswith("thespian.") and patch.target.startswith("thespian.")
    _resolve(patch.wraps)


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_each_patch_names_a_test_of_its_effect_that_exists(patch):
    path, name = patch.tested_by.split("::")
    tree = ast.parse((ROOT / path).read_text())
    assert name in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}, patch.tested_by
    assert patch.what and patch.why


def test_only_the_pinned_thespian_is_accepted():
    check_version(PINNED_VERSION)
    with pytest.raises(ThespianVersionError) as refused:
        check_version("4.0.2")
    assert str(refused.value).startswith(f"the brain needs thespian {PINNED_VERSION}, and found 4.0.2")
    assert "make setup" in str(refused.value)


def test_the_pinned_version_is_the_one_installed_and_the_one_pyproject_asks_for():
    check_version()
    assert f'"thespian=={PINNED_VERSION}"' in (ROOT / "pyproject.toml").read_text()


def test_the_brain_refuses_to_start_on_another_thespian(tmp_path):
    # A real `brain serve` with thespian's reported version changed under it: exit 2 and
    # the sentence, before any actor starts.
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "sitecustomize.py").write_text(
        "import importlib.metadata as m\n"
        "real = m.version\n"
        "m.version = lambda name: '5.0.0' if name == 'thespian' else real(name)\n"
    )
    env = {"PYTHONPATH": str(fake), "PATH": str(Path(sys.executable).parent)}
    done = subprocess.run(
        [sys.executable, "-m", "brain.cli", "serve", "--port", "0", "--admin-port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert f"the brain needs thespian {PINNED_VERSION}, and found 5.0.0" in done.stderr


def test_every_patch_is_applied_by_apply_patches(tmp_path):
    # In a fresh interpreter: each patch's target is something else after apply_patches
    # (a patch listed but never applied would be a comfort, not a protection).
    script = f"""
import json, pickle
from brain.actor_network import NetworkGuard
from brain.thespian_patches import PATCHES, apply_patches
from tests.test_thespian_patches import _resolve
MISSING = object()
def value(patch):
    try:
        return _resolve(patch.target)
    except AttributeError:
        return MISSING
before = {{p.name: value(p) for p in PATCHES}}
guard = NetworkGuard.for_host("127.0.0.1", [], "", 1 << 24, 1 << 25)
apply_patches(guard, {str(tmp_path / "thespian.log")!r}, {{}}, "0:20")
print(json.dumps([p.name for p in PATCHES if value(p) is before[p.name]]))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"not applied: {done.stdout}"


class FakeLeader:
    """A plain TCP server on 127.0.0.1 where a `brain join` looks for its leader: it reads
    what each connection sends, answers `answer` (not an acknowledgement) and closes."""

    def __init__(self, answer: bytes):
        self.answer = answer
        self.messages = 0  # connections that sent something: the member's registrations
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:  # (closed)
                return
            with connection:
                connection.settimeout(2)
                try:
                    if connection.recv(65536):
                        self.messages += 1
                    connection.sendall(self.answer)
                except OSError:
                    pass

    def close(self) -> None:
        self._server.close()


@pytest.mark.parametrize(
    "answer",
    [b"this is not a frame, it has no size", b"5>hello", b"99999999999999>"],
    ids=["no size", "unsigned", "too big"],
)
def test_answers_that_are_not_acknowledgements_leave_the_member_sending(tmp_path, answer):
    # Each answer that the frame buffer or the signature refused made thespian abandon the
    # send, holding one of the admin's in-flight sends (THESPIAN_MAX_PENDING_TRANSMITS, 20)
    # for good: after 20 the admin sent nothing more, to anyone (measured: the leader heard
    # 20 registrations, then silence). Here it re-registers every second and has 3 slots.
    leader = FakeLeader(answer)
    slots = 3
    env = {
        "CORTICAL_ACTOR_SECRET": secrets.token_hex(32),
        "CONVENTION_REREGISTRATION_PERIOD": "0:01",
        "THESPIAN_MAX_PENDING_TRANSMITS": str(slots),
    }
    member = Member(SimpleNamespace(admin_port=leader.port), "127.0.0.1", "cpu", tmp_path, env)
    try:
        heard = slots + 3
        assert wait_until(lambda: leader.messages >= heard, 40), f"the leader heard {leader.messages} messages"
        # The member and its admin live, and the admin still does its work: a clean stop
        # goes through it (a deaf admin was left to the lifeline).
        assert member.proc.poll() is None
        admin = admin_session(member.admin_port)
        assert admin and processes_in_session(admin)
        assert member.stop() == 0
        assert wait_until(lambda: not processes_in_session(admin), 5)
        assert "is gone without stopping its actor system" not in member.log
        assert "answered a message with something other than an acknowledgement" in member.log
        assert leader.messages < 3 * heard  # (each send failed at once: the peer is not hammered)
    finally:
        member.stop()
        leader.close()
