"""The GPU path: what `brain join --capabilities gpu` says, and a GPU really used where there is one."""

import pytest

from brain.gpu import answer, ask_tensorflow, gpu_warning, gpus_known


def test_a_host_claiming_a_gpu_tensorflow_cannot_use_is_told_what_to_do():
    told = gpu_warning(["gpu", "faces"], 0)
    assert "TensorFlow sees no GPU here" in told and "`make gpu`" in told and "run on this host's CPU" in told
    assert "TensorFlow is not installed" in gpu_warning(["gpu"], None)
    assert gpu_warning(["gpu"], 1) is None  # it has one
    assert gpu_warning(["faces"], 0) is None  # it claims none


def test_what_is_known_without_asking_tensorflow():
    assert gpus_known(["/dev/nvidia0"], {"tensorflow-cpu"}) == 0  # the CPU build
    assert gpus_known([], {"tensorflow"}) == 0  # no NVIDIA device
    assert gpus_known(["/dev/nvidia0"], set()) is None  # no TensorFlow
    assert gpus_known(["/dev/nvidia0"], {"tensorflow"}) == "ask"


def test_a_json_model_runs_on_the_gpu_where_tensorflow_sees_one():
    if gpus_known() != "ask":
        pytest.skip("no NVIDIA device or TensorFlow's CPU build here (the CPU path is tested in test_scale_out)")
    probe = ask_tensorflow()
    probe.wait(120)
    if not answer(probe):
        pytest.skip("TensorFlow sees no GPU on this machine")
    from actors.models import runtime

    assert runtime.device_of("tfjs").startswith("GPU:0 (")
    assert runtime.device_of("tflite") == "CPU"
