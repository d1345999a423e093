"""The bad-input corpus (harness/corpus.py): every case gets an error that says what was
wrong, and the session keeps working afterwards — on the real default brain with its real
models."""

import pytest
from websockets.exceptions import ConnectionClosed

from harness.brains import running_brain
from harness.configs import default_config
from harness.corpus import CORPUS, PHOTO


@pytest.fixture(scope="module")
def brain(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("corpus")
    with running_brain(default_config(tmp / "faces"), tmp) as running:
        yield running


def test_the_corpus_is_big_enough():
    assert len({name for name, _, _ in CORPUS}) >= 30


def test_every_bad_input_is_explained_and_the_session_goes_on(brain):
    with brain.eye(max_size=None) as eye:
        eye.wait_ready()
        for name, message, words in CORPUS:
            eye.send(message)
            error = eye.wait_for(lambda o: o["kind"] == "error" and words in o["text"], 30)
            assert error["text"].rstrip().endswith("."), (name, error["text"])
            eye.send(f"still here after {name}")
            assert eye.wait_for(lambda o: o["kind"] == "echo", 30)["text"] == f"still here after {name}"
        eye.send(PHOTO)  # and the cortexes still see
        assert eye.wait_for(lambda o: o["kind"] == "label", 30)["text"].startswith("person (")


def test_invalid_utf8_in_a_text_frame_closes_only_that_connection(brain):
    with brain.eye() as other, brain.eye() as eye:
        other.wait_ready()
        eye.wait_ready()
        eye.ws.send(b"\xff\xfe not UTF-8", text=True)  # RFC 6455 requires failing this connection
        with pytest.raises(ConnectionClosed) as closed:
            eye.wait_for(lambda o: False, 10)
        assert closed.value.rcvd.code == 1007
        assert other.ask("unaffected")["text"] == "unaffected"
