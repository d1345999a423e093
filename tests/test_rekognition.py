"""The faces cortex's Rekognition backend over real HTTP with real aiobotocore: against
moto's server (wiring, S3 references) and a local server playing each cloud case."""

import json

import pytest
import skimage.data
from PIL import Image

from harness.brains import free_port, running_brain
from harness.configs import TEST_INFER_TIMEOUT_MS, at_connect, default_config
from harness.fake_rekognition import FakeRekognition
from harness.pictures import ASTRONAUT, CAMERAMAN, frame

SECRET = "s3cr3t-never-in-any-log-0123456789"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDTESTING",
    "AWS_SECRET_ACCESS_KEY": SECRET,
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}
COFFEE = Image.fromarray(skimage.data.coffee())


def ready(brain):
    """An eye once the faces cortex has its detector (the gate; no embedder with Rekognition).
    Other cortexes' models being ready says nothing of it, and the frames it gets before
    wait, the latest only: waiting for any two models once cost a frame on a busy machine."""
    eye = brain.eye(max_size=None)
    eye.wait_for(lambda o: o["cortex"] == "faces" and o["data"].get("state") == "ready", timeout=120)
    return eye


def config(endpoint: str, references: str, timeout_s: float = 1.0) -> str:
    default = default_config()
    start = default.index('params = { backend = "local"')
    end = default.index("\n", start)
    return at_connect(
        default[:start]
        + (
            f'params = {{ backend = "rekognition", references = {references}, endpoint_url = "{endpoint}", '
            f'region = "us-east-1", timeout_s = {timeout_s}, announce_every_s = 0.0, '
            f"infer_timeout_ms = {TEST_INFER_TIMEOUT_MS} }}"
        )
        + default[end:]
    )


def answer(eye, image) -> dict:
    eye.send(frame(image))
    return eye.wait_for(lambda o: o["cortex"] == "faces" and o["kind"] in ("faces", "error"), 30)


@pytest.fixture(scope="module")
def fake():
    server = FakeRekognition()
    yield server
    server.close()


@pytest.fixture(scope="module")
def brain(fake, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rekognition")
    ASTRONAUT.save(tmp / "eileen.jpg")
    with running_brain(config(fake.url, f'{{ Eileen = "{tmp / "eileen.jpg"}" }}'), tmp, env=AWS_ENV) as running:
        yield running


@pytest.fixture
def eye(brain, fake):
    fake.scenario = "match"
    with ready(brain) as connected:
        yield connected


def test_match_names_the_face_and_signs_the_request(eye, fake):
    before = fake.compare_calls()
    output = answer(eye, ASTRONAUT)
    assert output["text"] == "Hello, Eileen"
    (face,) = output["data"]["faces"]
    assert face["name"] == "Eileen" and face["score"] == pytest.approx(0.975)
    call = fake.calls[-1]
    assert fake.compare_calls() == before + 1
    assert call["body"]["SimilarityThreshold"] == 80.0
    assert call["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDTESTING/")


def test_no_match_is_an_unknown_person(eye, fake):
    fake.scenario = "nomatch"
    assert answer(eye, ASTRONAUT)["text"] == "unknown person"


def test_face_that_rekognition_does_not_find_stays_unknown(eye, fake):
    fake.scenario = "noface"
    assert answer(eye, ASTRONAUT)["data"]["faces"][0]["name"] is None


@pytest.mark.parametrize(
    "scenario, words",
    [
        ("throttle", "Rekognition is throttling requests"),
        ("error500", "Rekognition had an internal error (HTTP 500)"),
        ("slow", "Rekognition did not answer within 1 s"),
    ],
)
def test_cloud_failures_are_explained_and_the_next_frame_works(eye, fake, scenario, words):
    fake.scenario = scenario
    eye.send(frame(ASTRONAUT))
    output = eye.wait_for(lambda o: o["kind"] == "error", 30)
    assert words in output["text"]
    fake.scenario = "match"
    assert eye.wait_for(lambda o: o["kind"] == "faces", 30)["data"]["faces"][0]["name"] is None  # that frame
    assert answer(eye, ASTRONAUT)["text"] == "Hello, Eileen"


def test_the_face_gate_saves_cloud_calls(eye, fake):
    stream = [COFFEE, ASTRONAUT, COFFEE, COFFEE, CAMERAMAN, COFFEE, ASTRONAUT, COFFEE, COFFEE]
    before = fake.compare_calls()
    showing = False
    for image in stream:
        # The next frame goes once this one is answered, so latest-frame-wins drops none
        # (sleeping 0.5 s instead once dropped one on a busy machine). A face is answered
        # with it, the first frame without one after it with an empty list; a second frame
        # without a face is not answered, and then at most the next one waits behind it.
        eye.send(frame(image))
        answered = image is not COFFEE or showing
        if answered:
            eye.wait_for(lambda o: o["kind"] == "faces" and o["cortex"] == "faces", 30)
        showing = image is not COFFEE
    eye.send(frame(ASTRONAUT))  # a last face, whose answer carries the gate's counts
    gate = eye.wait_for(lambda o: o["kind"] == "faces" and o["data"]["gate"]["frames"] >= len(stream), 30)
    assert gate["data"]["dropped"] == 0
    # One per appearance (each face here comes after a frame with nobody), and the last one.
    assert fake.compare_calls() - before == 3 + 1


def test_a_person_who_stays_in_view_costs_one_comparison(eye, fake):
    def seen(image) -> dict:
        eye.send(frame(image))
        return eye.wait_for(lambda o: o["kind"] == "faces" and o["data"]["faces"], 30)

    def nobody() -> None:
        # Nobody in view after somebody: every appearance is over, said with an empty list.
        eye.send(frame(COFFEE))
        eye.wait_for(lambda o: o["kind"] == "faces" and o["cortex"] == "faces" and not o["data"]["faces"], 30)

    seen(ASTRONAUT)
    nobody()
    before = fake.compare_calls()
    named = [seen(ASTRONAUT)["data"]["faces"][0]["name"] for _ in range(6)]  # she stays for 6 frames
    assert named == ["Eileen"] * 6  # named all along …
    assert fake.compare_calls() - before == 1  # … compared once, when she appeared
    nobody()
    seen(ASTRONAUT)
    assert fake.compare_calls() - before == 2  # she left and came back: a new appearance


def test_enrolment_is_refused_with_rekognition(eye):
    eye.send(frame(ASTRONAUT))
    eye.send(json.dumps({"command": "enroll", "name": "Eileen"}))
    error = eye.wait_for(lambda o: o["kind"] == "error", 30)
    assert "Enrolment is for the local backend" in error["text"]


def test_credentials_never_reach_the_logs(brain, eye):
    answer(eye, ASTRONAUT)
    logs = brain.log + "".join(p.read_text(errors="replace") for p in brain.tmp.glob("*.log"))
    assert "Hello, Eileen" in "".join(o["text"] for o in eye.seen)
    assert SECRET not in logs


def test_moto_server_wiring_with_s3_references(tmp_path):
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    try:
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="AKIDTESTING",
            aws_secret_access_key=SECRET,
        )
        s3.create_bucket(Bucket="faces")
        s3.put_object(Bucket="faces", Key="eileen.jpg", Body=frame(ASTRONAUT))
        text = config(f"http://127.0.0.1:{port}", '{ Eileen = "s3://faces/eileen.jpg" }', timeout_s=5.0)
        with running_brain(text, tmp_path, env=AWS_ENV) as brain, ready(brain) as eye:
            # moto answers CompareFaces with one canned match whatever the images: this
            # proves signing, endpoint, S3 loading and parsing, not face matching.
            output = answer(eye, ASTRONAUT)
            assert output["kind"] == "faces" and output["text"] == "Hello, Eileen"
            assert output["data"]["gate"]["comparisons"] == 1
            missing = config(f"http://127.0.0.1:{port}", '{ Eileen = "s3://faces/nobody.jpg" }', timeout_s=5.0)
        (tmp_path / "missing").mkdir()
        with running_brain(missing, tmp_path / "missing", env=AWS_ENV) as brain, ready(brain) as eye:
            eye.send(frame(ASTRONAUT))  # said at start, and again for each frame with a face
            error = eye.wait_for(lambda o: o["kind"] == "error" and o["cortex"] == "faces", 30)
            assert "reference photos could not be loaded" in error["text"] and "NoSuchKey" in error["text"]
    finally:
        moto.stop()
