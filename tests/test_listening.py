"""Cortexes that listen to each other (brain/listening.py), and the config refusing a
loop or a kind nobody emits with a sentence. Pure."""

import pytest

from brain.config import ConfigError, load_config
from brain.listening import TopologyError, check, hears

EMITS = {"objects": ("label",), "faces": ("faces", "enrolled"), "pose": ("pose", "gesture"), "echo": ("echo",)}


def test_a_cortex_hears_the_others_that_emit_its_kinds_never_itself():
    subscribes = {"objects": ["image"], "faces": ["image"], "pose": ["image", "pose", "label", "faces"]}
    assert hears(subscribes, EMITS) == {"objects": [], "faces": [], "pose": ["objects", "faces"]}
    check(subscribes, EMITS)  # no loop: outputs flow one way


def test_a_kind_an_eye_sends_comes_from_the_eye_alone():
    # The pose cortex emits "pose" too; a cortex taking the eye's "pose" does not hear it.
    assert hears({"pose": ["image"], "creature": ["pose"]}, {**EMITS, "creature": ()}) == {
        "pose": [],
        "creature": [],
    }


@pytest.mark.parametrize(
    "subscribes, ring",
    [
        ({"a": ["b-out"], "b": ["a-out"]}, "a → b → a"),
        ({"a": ["c-out"], "b": ["a-out"], "c": ["b-out"]}, "a → b → c → a"),
        ({"x": ["text"], "a": ["b-out", "text"], "b": ["a-out"]}, "a → b → a"),
    ],
)
def test_a_loop_is_refused_naming_its_ring(subscribes, ring):
    emits = {"a": ("a-out",), "b": ("b-out",), "c": ("c-out",), "x": ()}
    with pytest.raises(TopologyError) as caught:
        check(subscribes, emits)
    assert ring in caught.value.problem and "one way" in caught.value.problem


def test_a_kind_nobody_emits_is_refused_with_what_is_offered():
    with pytest.raises(TopologyError) as caught:
        check({"pose": ["image", "fcaes"], "faces": ["image"]}, EMITS)
    assert caught.value.cortex == "pose"
    assert "'fcaes' is neither what an eye sends" in caught.value.problem
    assert "enrolled, faces" in caught.value.problem
    with pytest.raises(TopologyError):  # its own outputs do not count
        check({"pose": ["gesture"]}, EMITS)


def write(tmp_path, cortexes: str):
    path = tmp_path / "t.toml"
    path.write_text(cortexes)
    return path


def test_the_config_refuses_a_loop_at_the_stanza_that_closes_it(tmp_path):
    path = write(
        tmp_path,
        """
[[cortex]]
name = "a"
type = "echo"
subscribes = ["text", "tick"]

[[cortex]]
name = "b"
type = "ticker"
subscribes = ["echo"]
""",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key.endswith(".subscribes")
    assert "a → b → a" in caught.value.problem


def test_the_config_takes_one_way_listening(tmp_path):
    path = write(
        tmp_path,
        """
[[cortex]]
name = "a"
type = "echo"
subscribes = ["text"]

[[cortex]]
name = "b"
type = "echo"
subscribes = ["echo"]
""",
    )
    assert [spec.subscribes for spec in load_config(path).cortexes] == [("text",), ("echo",)]
