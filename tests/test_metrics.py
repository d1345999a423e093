"""/metrics counts what outputs say explicitly in their meter, never what is in `data`."""

from actors.messages import Meter, Output
from brain.metrics import Metrics


def counted(metrics: Metrics) -> dict[str, float]:
    text = metrics.render().decode()
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line[:1] != "#"}


def test_the_meter_is_counted():
    metrics = Metrics()
    metrics.observe_output(
        Output("objects", "label", "cup", meter=Meter(latency_ms=40.0, batch=3, queued=2, model="objects"))
    )
    metrics.observe_output(Output("pose", "pose", "", meter=Meter(latency_ms=20.0, model="pose", host="gpu:1900")))
    metrics.observe_output(Output("session", "status", "back", meter=Meter(restarted="objects")))
    seen = counted(metrics)
    assert seen['cortical_outputs_total{cortex="objects",kind="label"}'] == 1
    assert seen['cortical_cortex_latency_seconds_count{cortex="objects"}'] == 1
    assert seen['cortical_cortex_latency_seconds_sum{cortex="objects"}'] == 0.04
    assert seen['cortical_model_latency_seconds_count{host="local",model="objects"}'] == 1
    assert seen['cortical_model_latency_seconds_count{host="gpu:1900",model="pose"}'] == 1
    assert seen["cortical_holder_batch_size_count"] == 1
    assert seen['cortical_holder_queued{host="local",model="objects"}'] == 2
    assert seen['cortical_restarts_total{what="objects"}'] == 1


def test_what_a_cortex_puts_in_data_is_not_a_metric():
    metrics = Metrics()
    metrics.observe_output(Output("mine", "thing", "", {"latency_ms": 5, "batch": 7, "restarted": "x"}))
    seen = counted(metrics)
    assert seen['cortical_outputs_total{cortex="mine",kind="thing"}'] == 1
    assert 'cortical_cortex_latency_seconds_count{cortex="mine"}' not in seen
    assert seen["cortical_holder_batch_size_count"] == 0
    assert not any(key.startswith("cortical_restarts_total{") for key in seen)
