"""mentions: the cortex, the shared poller of an X account, and the X API client."""

from actors.cortexes.mentions.cortex import Mentions

__all__ = ["Mentions"]
