"""The GPU path: what `brain join --capabilities gpu` says, and a GPU really used where there is one."""

import pytest

from brain.gpu import gpu_warning, tensorflow_gpus


def test_a_host_claiming_a_gpu_tensorflow_cannot_use_is_told_what_to_do():
    told = gpu_warning(["gpu", "faces"], 0)
    assert "TensorFlow sees no GPU here" in told and "`make gpu`" in told and "run on this host's CPU" in told
    assert "TensorFlow is not installed" in gpu_warning(["gpu"], None)
    assert gpu_warning(["gpu"], 1) is None  # it has one
    assert gpu_warning(["faces"], 0) is None  # it claims none


def test_a_json_model_runs_on_the_gpu_where_tensorflow_sees_one():
    gpus = tensorflow_gpus()
    if not gpus:
        pytest.skip("TensorFlow sees no GPU on this machine (the CPU path is tested in test_scale_out)")
    from actors.models import runtime

    assert runtime.device_of("tfjs").startswith("GPU:0 (")
    assert runtime.device_of("tflite") == "CPU"
