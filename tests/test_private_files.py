"""The brain's files that other users must not touch (thespian's log, `brain join`'s
marker) live in a directory only it may enter, and thespian's log is never opened
through a link nor readable by others (issue 22, item 1)."""

from __future__ import annotations

import logging
import os
import socket
import stat
import tempfile

import pytest
from thespian.system import utilis

from brain.actor_system import directory_problem, private_directory, thespian_log_file
from brain.thespian_patches import log_thespian_to
from harness.brains import running_brain
from harness.configs import ECHO_TICKER
from harness.waits import wait_until

UID = os.getuid()


def status(mode: int, uid: int = UID) -> os.stat_result:
    return os.stat_result((mode, 0, 0, 1, uid, 0, 0, 0, 0, 0))


@pytest.mark.parametrize(
    ("seen", "problem"),
    [
        (status(stat.S_IFDIR | 0o700), None),
        (status(stat.S_IFLNK | 0o777), "is a symbolic link"),
        (status(stat.S_IFREG | 0o600), "is not a directory"),
        (status(stat.S_IFDIR | 0o700, uid=UID + 1), "belongs to another user"),
        (status(stat.S_IFDIR | 0o755), "is open to other users (mode 755)"),
        (status(stat.S_IFDIR | 0o1777), "is open to other users"),
    ],
)
def test_a_private_directory_is_ours_alone(seen, problem):
    found = directory_problem(seen, UID)
    assert found == problem if problem is None else problem in found


@pytest.fixture
def tmpdir_here(tmp_path, monkeypatch):
    """$TMPDIR is tmp_path (tempfile reads it once: set its cache too)."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("THESPLOG_FILE", raising=False)
    return tmp_path


def test_the_private_directory_is_made_0700_and_kept(tmpdir_here):
    made = private_directory()
    assert made == tmpdir_here / f"cortical-{UID}"
    assert stat.S_IMODE(made.lstat().st_mode) == 0o700
    assert private_directory() == made


def test_a_planted_link_in_its_place_is_never_used(tmpdir_here, caplog):
    elsewhere = tmpdir_here / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmpdir_here / f"cortical-{UID}").symlink_to(elsewhere)
    with caplog.at_level(logging.WARNING):
        made = private_directory()
    assert made.parent == tmpdir_here and made.name.startswith(f"cortical-{UID}-")
    assert directory_problem(made.lstat(), UID) is None
    assert "is a symbolic link, so the brain keeps its private files in" in caplog.text


def test_thespian_log_file_takes_thesplog_file_only_where_no_one_else_writes(tmpdir_here, monkeypatch):
    own = tmpdir_here / "logs"
    own.mkdir(mode=0o755)  # (others may read, not write: no link can be planted)
    monkeypatch.setenv("THESPLOG_FILE", str(own / "t.log"))
    assert thespian_log_file(1900) == own / "t.log"
    shared = tmpdir_here / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    monkeypatch.setenv("THESPLOG_FILE", str(shared / "t.log"))
    assert thespian_log_file(1900) == tmpdir_here / f"cortical-{UID}" / "thespian-1900.log"


@pytest.fixture
def thesplog_at_warning(monkeypatch):
    """thesplog writing its file from WARNING, rotating at its least size (10 KB); all
    put back afterwards."""
    monkeypatch.setattr(utilis, "_thesplog_control_settings", (logging.WARNING, False, 10 * 1024))
    monkeypatch.setattr(utilis, "_thesplog_file", None)
    monkeypatch.setattr(utilis, "open", open, raising=False)
    monkeypatch.setenv("THESPLOG_FILE", "")


def test_thesplog_writes_0600_never_through_a_link_and_rotates_so(tmp_path, thesplog_at_warning):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path = tmp_path / "thespian.log"
    path.symlink_to(victim)
    log_thespian_to(path)
    utilis.thesplog("through a planted link?", level=logging.ERROR)
    assert victim.read_text() == "precious\n"  # (the line is lost, as thesplog loses any it cannot write)
    path.unlink()
    for line in range(400):  # ~25 KB: rotated at least once
        utilis.thesplog("a warning line %d %s", line, "x" * 40, level=logging.WARNING)
    old = tmp_path / "thespian.log.old"
    assert old.exists() and "a warning line" in path.read_text()
    assert {stat.S_IMODE(p.stat().st_mode) for p in (path, old)} == {0o600}


def test_a_planted_thespian_log_link_is_never_followed_and_the_brain_lives_on(tmp_path):
    # Another user plants $TMPDIR/thespian.log -> a file of the brain's user (root's, in
    # the probe); thespian appended its error lines to it. The brain logs in a directory
    # of its own instead.
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "thespian.log").symlink_to(victim)
    with running_brain(ECHO_TICKER, tmp_path, env={"TMPDIR": str(tmp_path), "THESPLOG_FILE": None}) as brain:
        private = tmp_path / f"cortical-{UID}"
        log = private / f"thespian-{brain.admin_port}.log"
        with socket.create_connection(("127.0.0.1", brain.admin_port), timeout=10) as stranger:
            stranger.sendall(b"not a size>")  # (thespian logs the corrupted frame)
            assert stranger.recv(100) == b""
        assert wait_until(lambda: log.exists() and "corrupted incoming data" in log.read_text(), 5), brain.log
        with brain.eye() as eye:
            eye.wait_ready()
            assert eye.ask("still here?")["text"] == "still here?"
    assert victim.read_text() == "precious\n"
    assert stat.S_IMODE(private.lstat().st_mode) == 0o700
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert f"thespian logs to {log}" in brain.log
