"""Spoken commands: the matcher is pure; the page acts on the `eye` output (tests/test_browser.py)."""

import pytest

from actors.cortexes.voice import DEFAULT_COMMANDS, Voice, heard
from actors.params import ParamError, from_dict


@pytest.mark.parametrize(
    "transcript, action, say",
    [
        ("Open your eyes", "open_eyes", "Opening my eyes."),
        ("ouvre les yeux", "open_eyes", "J'ouvre les yeux."),
        ("Ferme les yeux !", "close_eyes", "Je ferme les yeux."),
        ("hey, what do you see?", "look", "Let me look."),
        ("Qui vois-tu", "look", "Je regarde."),
        ("qu'est-ce que tu vois", "look", "Je regarde."),
        ("change de camera", "switch_camera", "Je change de caméra."),  # (no accent heard)
    ],
)
def test_commands_in_english_and_french(transcript, action, say):
    command = heard(transcript, DEFAULT_COMMANDS)
    assert (command["action"], command["say"]) == (action, say)


def test_other_words_are_not_commands():
    for transcript in ["hello", "I see you", "reopen your eyesight", ""]:
        assert heard(transcript, DEFAULT_COMMANDS) is None


def test_a_topology_brings_its_own_phrases_and_bad_ones_are_named():
    params = from_dict(Voice.Params, {"commands": [{"action": "look", "say": "Ja.", "phrases": ["was siehst du"]}]})
    assert heard("Was siehst du?", params.commands)["say"] == "Ja."
    with pytest.raises(ParamError, match=r"commands\[0\].action: 'dance' is not one of"):
        from_dict(Voice.Params, {"commands": [{"action": "dance", "say": "", "phrases": ["go"]}]})
    with pytest.raises(ParamError, match=r"commands\[0\].phrases"):
        from_dict(Voice.Params, {"commands": [{"action": "look", "say": "", "phrases": ["?!"]}]})
