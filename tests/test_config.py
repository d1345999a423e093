"""Config files: the shipped ones load; every fault names the file, the key and the problem."""

import os
import subprocess
import sys

import pytest

from brain.config import ConfigError, load_config
from harness import ROOT
from harness.configs import write_config


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "config").glob("*.toml")))
def test_shipped_configs_load(name):
    config = load_config(ROOT / "config" / name)
    assert config.cortexes, f"{name} declares no cortex"


def test_defaults_fill_missing_sections(tmp_path):
    config = load_config(write_config(tmp_path / "c.toml", '[[cortex]]\nname = "e"\ntype = "echo"\n'))
    assert (config.server.port, config.actors.host, config.cortexes[0].subscribes) == (8080, "127.0.0.1", ())


@pytest.mark.parametrize(
    "text, key, problem",
    [
        ("[server\nport = 1", "(syntax)", "not valid TOML"),
        ("[srever]\nport = 1", "srever", "unknown section"),
        (
            "[server]\nprot = 1",
            "server.prot",
            "unknown key (known keys: allowed_hosts, allowed_origins, cert, close_over_bytes, download_timeout_s, "
            "health_needs_token, host,",
        ),
        ('[server]\nport = "80"', "server.port", "expected an integer, got '80'"),
        ("[server]\nport = true", "server.port", "expected an integer, got True"),
        ("[server]\nport = 70000", "server.port", "must be at most 65535"),
        ("[server]\nmax_message_bytes = 10", "server.max_message_bytes", "must be at least 1024"),
        (
            "[server]\nmax_message_bytes = 4096\nclose_over_bytes = 2048",
            "server.close_over_bytes",
            "must be at least server.max_message_bytes",
        ),
        ("[eye]\nsnapshot_every_ms = 1.5", "eye.snapshot_every_ms", "expected an integer"),
        ("[eye]\nsnapshot_every_ms = 50", "eye.snapshot_every_ms", "the page would send 20 snapshots a second"),
        ('[cortex]\nname = "x"', "cortex", "write [[cortex]] stanzas"),
        ('[[cortex]]\ntype = "echo"', "cortex[0].name", "missing"),
        ('[[cortex]]\nname = ""\ntype = "echo"', "cortex[0] ().name", "must not be empty"),
        ('[[cortex]]\nname = "eyes"\ntype = "ehco"', "cortex[0] (eyes).type", "no cortex type 'ehco' (known types:"),
        (
            '[[cortex]]\nname = "e"\ntype = "echo"\nsubscribes = ["smell"]',
            "cortex[0] (e).subscribes",
            "'smell' is neither what an eye sends",
        ),
        (
            '[[cortex]]\nname = "e"\ntype = "echo"\nsubscribes = "text"',
            "cortex[0] (e).subscribes",
            "expected a list of strings",
        ),
        (
            '[[cortex]]\nname = "e"\ntype = "echo"\n[[cortex]]\nname = "e"\ntype = "ticker"',
            "cortex[1] (e).name",
            "'e' is used by two cortexes",
        ),
        (
            '[[cortex]]\nname = "t"\ntype = "ticker"\nparams = { every_s = "often" }',
            "cortex[0] (t).params.every_s",
            "expected a number",
        ),
        (
            '[[cortex]]\nname = "t"\ntype = "ticker"\nparams = { every_s = 0 }',
            "cortex[0] (t).params.every_s",
            "must be at least 0.05",
        ),
        (
            '[[cortex]]\nname = "t"\ntype = "ticker"\nparams = { speed = 1 }',
            "cortex[0] (t).params.speed",
            "unknown key (known keys: every_s, text)",
        ),
        ('[actors]\nhost = "0.0.0.0"', "actors.host", "must not listen on every interface"),
        ('[actors]\nhost = "brain.local"', "actors.host", "is not an IP address"),
        ('[actors]\nallowed_peers = ["10.0.0.0/33"]', "actors.allowed_peers[0]", "is not an address or a network"),
        (
            "[actors]\nheartbeat_every_s = 1.0\nhost_dead_after_s = 1.5",
            "actors.host_dead_after_s",
            "must be at least twice actors.heartbeat_every_s",
        ),
        (
            "[actors]\nhost_dead_after_s = 5.0\nleader_lost_after_s = 5.0",
            "actors.leader_lost_after_s",
            "must be more than actors.host_dead_after_s",
        ),
        (
            "[server]\nmax_message_bytes = 9000000\nclose_over_bytes = 9000000",
            "actors.max_message_bytes",
            "must be at least twice server.max_message_bytes",
        ),
        (
            '[[model]]\nname = "m"\npath = "pyproject.toml"\nformat = "tflite"\nrequires = ["g p u"]',
            "model[0] (m).requires[0]",
            "'g p u' is not a capability name",
        ),
        (
            '[[model]]\nname = "m"\npath = "pyproject.toml"\nformat = "tflite"\nload = "lazily"',
            "model[0] (m).load",
            "first_use",
        ),
    ],
)
def test_faults_name_file_key_and_problem(tmp_path, text, key, problem):
    path = write_config(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert (error.path, error.key) == (str(path), key)
    assert problem in error.problem
    assert str(error).startswith(f"{path}: {key}: ")


def test_models_load_with_their_holder_unless_they_say_first_use():
    models = {m.name: m.load for m in load_config(ROOT / "config" / "default.toml").models}
    assert models.pop("image-features") == "first_use"  # (only teach projects use it)
    assert set(models.values()) == {"start"}


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.toml: \(file\): no such file"):
        load_config(tmp_path / "nope.toml")


def test_brain_refuses_to_start_on_a_bad_config(tmp_path):
    path = write_config(tmp_path / "bad.toml", '[[cortex]]\nname = "eyes"\ntype = "ehco"\n')
    result = subprocess.run(
        [sys.executable, "-m", "brain.cli", "serve", "--config", str(path), "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{path}: cortex[0] (eyes).type: no cortex type 'ehco'" in result.stderr
    assert "actor system started" not in result.stderr


def test_a_reachable_actor_network_needs_a_secret(tmp_path):
    path = write_config(tmp_path / "open.toml", '[actors]\nhost = "192.0.2.2"\n[[cortex]]\nname = "e"\ntype = "echo"\n')
    env = {k: v for k, v in os.environ.items() if k != "CORTICAL_ACTOR_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "brain.cli", "serve", "--config", str(path), "--port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "listens on 192.0.2.2, which other machines can reach" in result.stderr
    assert "set CORTICAL_ACTOR_SECRET" in result.stderr
    assert "actor system started" not in result.stderr
