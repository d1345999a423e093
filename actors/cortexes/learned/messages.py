"""Between a learned cortex and the trainer it starts for one training."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Train", "Progress", "Trained", "TrainingFailed", "Step"]


@dataclass(frozen=True)
class Train:
    project_dir: str
    features: str  # "pose" or "image"
    model_path: str  # the feature model: MoveNet for pose, centernet for image
    seed: int = 0
    max_epochs: int = 100
    patience: int = 10  # epochs without a better validation loss before stopping
    image_copies: int = 4  # augmented copies of each image sample
    mirror_poses: bool = True
    min_keypoints: int = 5  # a pose sample with fewer seen is skipped
    inherited: tuple[int, ...] = ()  # the cortex's files the trainer was forked with: it closes them
    lock: int = -1  # the project's training lock the trainer was forked with: it holds it until done


@dataclass(frozen=True)
class Progress:
    epoch: int
    epochs: int
    loss: float
    val_loss: float
    val_accuracy: float


@dataclass(frozen=True)
class Trained:
    version: int
    labels: tuple[str, ...]
    accuracy_per_class: tuple
    confusion: tuple
    val_accuracy: float
    samples: int
    skipped: int
    seconds: float


@dataclass(frozen=True)
class TrainingFailed:
    error: str


@dataclass(frozen=True)
class Step:
    """Trainer → itself: the next epoch (one message per epoch, so progress goes out)."""
