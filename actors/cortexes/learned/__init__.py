"""learned: the teach commands and live predictions (cortex), the trainer actor, the
project store, and the pure features and judging of a training."""

from actors.cortexes.learned.cortex import Learned

__all__ = ["Learned"]
