"""Cortexes that listen to each other: which cortex hears which, and the topologies refused.

A cortex subscribes to kinds. A kind an eye sends (text, image, command, pose) comes from
the eye; any other kind is an output kind that another cortex of the same eye emits (its
class's `emits`), and reaches the subscriber as a stimulus of that kind, in the order it was
emitted, through the same pipes as the eye's stimuli (brain/gateway.py passes it on;
actors/dataplane/routes.py writes it). An output kind that is also a stimulus kind reaches
only the eye, so a cortex's "image" output is never taken for a snapshot.

Refused at start, each with a sentence: a subscription to a kind nobody emits (a typo
would otherwise be silence), and a loop (cortexes that hear each other, directly or round
a ring, would pass outputs round for ever). A cortex never hears its own outputs. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from actors.messages import STIMULUS_KINDS

__all__ = ["TopologyError", "hears", "check"]


class TopologyError(ValueError):
    def __init__(self, cortex: str, problem: str):
        super().__init__(problem)
        self.cortex = cortex
        self.problem = problem


def hears(subscribes: Mapping[str, Sequence[str]], emits: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """cortex → the other cortexes whose outputs it hears (in the topology's order)."""
    return {
        name: [
            other
            for other in subscribes
            if other != name and any(k in emits.get(other, ()) and k not in STIMULUS_KINDS for k in kinds)
        ]
        for name, kinds in subscribes.items()
    }


def check(subscribes: Mapping[str, Sequence[str]], emits: Mapping[str, Sequence[str]]) -> None:
    """Raise TopologyError for a kind no other cortex emits, or for a loop."""
    for name, kinds in subscribes.items():
        offered = sorted({k for other, ks in emits.items() if other != name for k in ks if k not in STIMULUS_KINDS})
        for kind in kinds:
            if kind not in STIMULUS_KINDS and kind not in offered:
                raise TopologyError(
                    name,
                    f"{kind!r} is neither what an eye sends ({', '.join(STIMULUS_KINDS)}) nor an output "
                    f"another cortex here emits ({', '.join(offered) or 'none'})",
                )
    loop = _loop(hears(subscribes, emits))
    if loop:
        ring = " → ".join([*loop, loop[0]])
        raise TopologyError(
            loop[0],
            f"cortexes {ring} would hear each other's outputs in a loop; "
            "drop one of those subscriptions so outputs flow one way",
        )


def _loop(heard_by: Mapping[str, Sequence[str]]) -> list[str]:
    """A cycle of the graph 'speaker → listener', as the cortexes in it; [] if none."""
    speaks_to: dict[str, list[str]] = {name: [] for name in heard_by}
    for listener, speakers in heard_by.items():
        for speaker in speakers:
            speaks_to[speaker].append(listener)
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    path: list[str] = []

    def walk(name: str) -> list[str]:
        state[name] = 1
        path.append(name)
        for nxt in speaks_to[name]:
            if state.get(nxt) == 1:
                return path[path.index(nxt) :]
            if nxt not in state and (found := walk(nxt)):
                return found
        state[name] = 2
        path.pop()
        return []

    for name in speaks_to:
        if name not in state and (found := walk(name)):
            return found
    return []
