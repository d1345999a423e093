"""Prometheus metrics of the gateway, read off the traffic it carries (/metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from actors.messages import Output

__all__ = ["Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.eyes = Gauge("cortical_eyes", "Eyes connected now", registry=r)
        self.connections = Counter("cortical_connections", "Eye connections accepted", registry=r)
        self.refused = Counter("cortical_connections_refused", "Connections refused", ["reason"], registry=r)
        self.messages_in = Counter("cortical_messages_in", "Messages from eyes", ["kind"], registry=r)
        self.dropped = Counter("cortical_dropped", "Frames or outputs dropped", ["reason"], registry=r)
        self.outputs = Counter("cortical_outputs", "Outputs sent to eyes", ["cortex", "kind"], registry=r)
        self.latency = Histogram(
            "cortical_cortex_latency_seconds",
            "Stimulus to output, per cortex",
            ["cortex"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.model_latency = Histogram(
            "cortical_model_latency_seconds",
            "Stimulus to output, per model and the host of its holder",
            ["model", "host"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.batch = Histogram(
            "cortical_holder_batch_size",
            "Images per model holder batch",
            buckets=(1, 2, 4, 8, 12, 16, 32, 64),
            registry=r,
        )
        self.queued = Gauge(
            "cortical_holder_queued",
            "Requests left waiting at a model's holder after its latest batch",
            ["model", "host"],
            registry=r,
        )
        self.restarts = Counter("cortical_restarts", "Actors restarted after a crash", ["what"], registry=r)
        # MQTT ([mqtt] url): what reached the broker, what was dropped and why, and the link.
        self.mqtt_published = Counter("cortical_mqtt_published", "Messages published to the MQTT broker", registry=r)
        self.mqtt_dropped = Counter(
            "cortical_mqtt_dropped",
            "MQTT messages dropped: queue_full, too_big, rejected, stopping going out; "
            "unknown_eye, bad_command, retained_command coming in",
            ["reason"],
            registry=r,
        )
        self.mqtt_connected = Gauge("cortical_mqtt_connected", "1 while the MQTT broker is connected", registry=r)

    def observe_output(self, output: Output) -> None:
        """Count an output, reading its explicit meter (never what a cortex put in `data`)."""
        self.outputs.labels(output.cortex, output.kind).inc()
        meter = output.meter
        if meter is None:
            return
        if meter.latency_ms is not None:
            self.latency.labels(output.cortex).observe(meter.latency_ms / 1000)
            if meter.model:
                self.model_latency.labels(meter.model, meter.host or "local").observe(meter.latency_ms / 1000)
        if meter.model and meter.queued is not None:
            self.queued.labels(meter.model, meter.host or "local").set(meter.queued)
        if meter.batch:
            self.batch.observe(meter.batch)
        if meter.restarted:
            self.restarts.labels(meter.restarted).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
