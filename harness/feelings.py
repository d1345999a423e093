"""What each face in a photo feels, bare: BlazeFace, then the emotion model on each face,
square and not enlarged (MODELS.md, "Emotion"), with the functions the faces cortex and the
holder use, in LiteRT as the holder runs them. For the emotion tests and bench."""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image

from actors.models import emotion, faces
from actors.models.litert import LiteModel
from harness import ROOT


@cache
def _model(name: str) -> LiteModel:
    return LiteModel(ROOT / "models" / name)


def feelings(picture: Image.Image) -> list[dict[str, float]]:
    """Each face's 7 scores, in the order BlazeFace found the faces."""
    pixels = np.asarray(picture.resize((faces.DETECT_SIZE, faces.DETECT_SIZE)))[None]
    found = faces.detect_decode([o[0] for o in _model("blazeface.tflite")(faces.detect_preprocess(pixels))], 0.6)
    out = []
    for face in found:
        crop = picture.crop(faces.crop_box(face.box, *picture.size, enlarge=1.0)).resize((emotion.SIZE, emotion.SIZE))
        out.append(emotion.decode([o[0] for o in _model("emotion.tflite")(emotion.preprocess(np.asarray(crop)[None]))]))
    return out


def top(scores: dict[str, float]) -> str:
    return max(scores, key=scores.get)
