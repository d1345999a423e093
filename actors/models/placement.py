"""Which actor system an actor may run on: capabilities advertised by `brain join`.

Every actor system of a Cortical convention advertises its own name (HOST) and what it
offers (OFFERS, e.g. ["gpu", "faces"]). The ModelDirectory picks the host itself and
pins the actor there with `targetActorRequirements={HOST: name}`; thespian asks the
actor class's `actorSystemCapabilityCheck`, which is `runs_on` below.
"""

from __future__ import annotations

__all__ = ["HOST", "OFFERS", "offers", "pinned_to", "runs_on"]

HOST = "Cortical Host"  # capability: this actor system's name, "address:admin_port"
OFFERS = "Cortical Offers"  # capability: list of what it offers, e.g. ["gpu"]


def pinned_to(host: str) -> dict:
    """targetActorRequirements that place an actor on one named actor system."""
    return {HOST: host}


def runs_on(capabilities: dict, requirements: dict | None) -> bool:
    wanted = (requirements or {}).get(HOST)
    return wanted is None or wanted == capabilities.get(HOST)


def offers(capabilities: dict, required: tuple[str, ...]) -> bool:
    return set(required) <= set(capabilities.get(OFFERS) or ())
