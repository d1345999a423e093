"""What a teach project keeps on disk, and its limits: samples, labels, trained versions.

    <root>/<project>/samples/<label>/<id>.jpg     one JPEG per sample (at most 512 px a side)
    <root>/<project>/versions/<n>/model.keras      a trained head
    <root>/<project>/versions/<n>/model.tflite     the same, as the holder runs it
    <root>/<project>/versions/<n>/meta.json        its labels, features and report
    <root>/<project>/training.lock                 flock'd by the trainer while it runs
    <root>/.import-<random>/                       an import under way, flock'd by its importer

Every refusal is a TeachError whose text is a sentence for the person. The directories are
0700 (actors/files.py): samples are photos of people.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from actors.files import private_dir, tighten, write_json_atomically

__all__ = ["TeachError", "TeachLimits", "TeachStore", "check_archive"]

NAME = re.compile(r"^\w[\w .'-]{0,39}$")
SAMPLE = re.compile(r"[0-9a-f]+-[0-9a-f]+")
IMPORTING = ".import-"  # (no project name starts with a dot)
#: An unlocked import directory younger than this may be one just made, whose importer has
#: not yet taken its lock: it is left alone.
STALE_IMPORT_S = 60.0
#: Zip flag bits zipfile reads none of (a password, or NotImplementedError): 0x1 encrypted,
#: 0x40 strongly encrypted; 0x20 compressed patched data.
ENCRYPTED_FLAGS = 0x41
PATCHED_FLAG = 0x20


class TeachError(ValueError):
    """A teach command that cannot be done; str() says why and what to do."""


@dataclass(frozen=True)
class TeachLimits:
    max_projects: int = 20
    max_classes: int = 10
    max_samples_per_class: int = 500
    max_bytes: int = 200_000_000  # all projects' samples and versions together
    min_samples_per_class: int = 5  # to train


def _check_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not NAME.match(name) or name.strip() != name:
        raise TeachError(
            f"A {kind} name is 1 to 40 letters, digits, spaces, dots, dashes or apostrophes "
            f"(not starting with one of the last four); {name!r} is not one."
        )
    return name


class TeachStore:
    def __init__(self, root: str | Path, limits: TeachLimits = TeachLimits()):
        self.root = Path(root)
        self.limits = limits
        tighten(self.root)
        self.sweep_imports()

    def sweep_imports(self) -> None:
        """Remove what killed imports left behind: their samples would count against
        max_bytes for ever, photos of people that no command shows or deletes. An import
        under way holds an flock on its directory (the kernel lets go however its process
        ends), and one just made may not hold it yet: both are left."""
        if not self.root.is_dir():
            return
        for path in self.root.glob(IMPORTING + "*"):
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                continue  # (gone meanwhile, or not a directory: nothing this store made)
            try:
                if time.time() - os.fstat(fd).st_mtime < STALE_IMPORT_S:
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # an import under way
                shutil.rmtree(path, ignore_errors=True)
            finally:
                os.close(fd)

    def project(self, name: object) -> Path:
        return self.root / _check_name("project", name)

    def projects(self) -> list[str]:
        if not self.root.is_dir():
            return []
        # (not an import under way, IMPORTING: no project name starts with a dot)
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and NAME.match(p.name))

    def counts(self, project: str) -> dict[str, int]:
        samples = self.project(project) / "samples"
        if not samples.is_dir():
            return {}
        return {d.name: len(list(d.glob("*.jpg"))) for d in sorted(samples.iterdir()) if d.is_dir()}

    def used_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file()) if self.root.is_dir() else 0

    def add(self, project: str, label: object, jpeg: bytes) -> tuple[str, dict[str, int]]:
        """Keep one sample; its id and the counts after."""
        directory = self.project(project)
        label = _check_name("class", label)
        limits = self.limits
        if not directory.exists() and len(self.projects()) >= limits.max_projects:
            raise TeachError(
                f"There are already {limits.max_projects} projects (the limit); delete one to start {project!r}."
            )
        counts = self.counts(project)
        if label not in counts and len(counts) >= limits.max_classes:
            raise TeachError(f"Project {project!r} has {limits.max_classes} classes already (the limit).")
        if counts.get(label, 0) >= limits.max_samples_per_class:
            raise TeachError(
                f"Class {label!r} has {limits.max_samples_per_class} samples already (the limit); "
                "delete some before adding more."
            )
        if self.used_bytes() + len(jpeg) > limits.max_bytes:
            raise TeachError(
                f"The teach store is full ({limits.max_bytes // 1_000_000} MB, the limit); "
                "delete samples or projects first."
            )
        sample = f"{int(time.time() * 1000):x}-{secrets.token_hex(3)}"
        private_dir(directory / "samples" / label)
        (directory / "samples" / label / f"{sample}.jpg").write_bytes(jpeg)
        counts[label] = counts.get(label, 0) + 1
        return sample, counts

    def forget(self, project: str, label: object, sample: object) -> dict[str, int]:
        label = _check_name("class", label)
        if not isinstance(sample, str) or not SAMPLE.fullmatch(sample):
            raise TeachError(f"{sample!r} is not a sample id (teach.sample answers with one).")
        path = self.project(project) / "samples" / label / f"{sample}.jpg"
        if not path.exists():
            raise TeachError(f"Project {project!r} has no sample {sample} in class {label!r}.")
        path.unlink()
        if not any(path.parent.iterdir()):
            path.parent.rmdir()
        return self.counts(project)

    def samples(self, project: str) -> list[tuple[str, Path]]:
        samples = self.project(project) / "samples"
        return [(d.name, f) for d in sorted(samples.iterdir()) if d.is_dir() for f in sorted(d.glob("*.jpg"))]

    def check_trainable(self, project: str) -> dict[str, int]:
        counts = self.counts(project)
        if not counts:
            raise TeachError(f"Project {project!r} has no samples; record some with teach.sample first.")
        if len(counts) < 2:
            raise TeachError(f"Project {project!r} has one class ({next(iter(counts))!r}); teach at least two.")
        few = {label: n for label, n in counts.items() if n < self.limits.min_samples_per_class}
        if few:
            listed = ", ".join(f"{label!r} ({n})" for label, n in few.items())
            raise TeachError(
                f"Each class needs at least {self.limits.min_samples_per_class} samples to train; "
                f"record more of {listed}."
            )
        return counts

    # -- trained versions -----------------------------------------------------------------

    def new_version(self, project: str) -> Path:
        versions = private_dir(self.project(project) / "versions")
        numbers = [int(p.name) for p in versions.iterdir() if p.name.isdigit()]
        path = versions / str(max(numbers, default=0) + 1)
        path.mkdir(0o700)
        return path

    def latest(self, project: str) -> Path | None:
        versions = self.project(project) / "versions"
        done = [p for p in versions.iterdir() if (p / "meta.json").exists()] if versions.is_dir() else []
        return max(done, key=lambda p: int(p.name), default=None)

    @staticmethod
    def save_meta(version: Path, meta: dict) -> None:
        write_json_atomically(version / "meta.json", meta)

    @staticmethod
    def meta(version: Path) -> dict:
        return json.loads((version / "meta.json").read_text())

    def begin_training(self, project: str) -> int:
        """Take the project's training lock, or refuse: one training of a project at a time,
        across sessions. The lock is an flock on an open file, whose descriptor this returns:
        a process forked with it (the trainer) holds the lock with it, and the kernel lets go
        when the last copy is closed, however its holder ends, so a file left behind never
        blocks and a trainer that lives always does."""
        directory = private_dir(self.project(project))
        fd = os.open(directory / "training.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise TeachError(f"Project {project!r} is training already; wait for it to finish.") from None
        return fd

    @staticmethod
    def end_training(lock: int) -> None:
        os.close(lock)

    @contextmanager
    def training(self, project: str):
        """Held while a project trains in this process: a second training of it is refused."""
        lock = self.begin_training(project)
        try:
            yield self.project(project)
        finally:
            self.end_training(lock)

    def is_training(self, project: str) -> bool:
        try:
            self.end_training(self.begin_training(project))
            return False
        except TeachError:
            return True

    # -- portable ---------------------------------------------------------------------------

    def export(self, project: str, destination: Path, model: bool = False) -> Path:
        """A zip of the samples (by label); with `model`, the latest trained head and its meta."""
        directory = self.project(project)
        if not directory.is_dir():
            raise TeachError(f"There is no project {project!r}.")
        with zipfile.ZipFile(destination, "w", zipfile.ZIP_STORED) as archive:
            for label, path in self.samples(project):
                archive.write(path, f"samples/{label}/{path.name}")
            latest = self.latest(project)
            if model and latest is not None:
                archive.write(latest / "model.keras", "model.keras")
                archive.write(latest / "meta.json", "meta.json")
        return destination

    def import_project(self, archive_path: Path, project: str) -> dict[str, int]:
        """A project from an export (its samples; a model is retrained here). It is unpacked
        into a directory beside the others and renamed into place when whole: a refused or
        failed import leaves nothing behind."""
        directory = self.project(project)
        if directory.exists():
            raise TeachError(f"A project named {project!r} exists already; import it under another name.")
        if len(self.projects()) >= self.limits.max_projects:
            raise TeachError(
                f"There are already {self.limits.max_projects} projects (the limit); delete one to import {project!r}."
            )
        archive_path = Path(archive_path)
        self.sweep_imports()  # (before the room is counted)
        if not archive_path.is_file():
            raise TeachError(f"There is no file {str(archive_path)!r}; give the zip that `brain teach export` wrote.")
        room = self.limits.max_bytes - self.used_bytes()
        if archive_path.stat().st_size > room:  # (before its directory is even read)
            raise TeachError(_too_big(archive_path.stat().st_size, room, self.limits))
        try:
            archive = zipfile.ZipFile(archive_path)
        except (zipfile.BadZipFile, EOFError, ValueError) as exc:
            raise TeachError(
                f"{archive_path.name} is not a zip archive, or it is cut short ({exc}); "
                "give the whole zip that `brain teach export` wrote."
            ) from None
        with archive:
            samples = check_archive(archive.infolist(), self.limits, room)
            unpacked = Path(tempfile.mkdtemp(prefix=IMPORTING, dir=private_dir(self.root)))
            lock = os.open(unpacked, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            fcntl.flock(lock, fcntl.LOCK_EX)  # held while it is written: see sweep_imports
            try:
                for label, entries in samples.items():
                    folder = private_dir(unpacked / "samples" / label)
                    for entry, sample in entries:
                        _unpack(archive, entry, folder / f"{sample}.jpg")
                try:
                    os.rename(unpacked, directory)
                except OSError as exc:
                    if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                        raise
                    raise TeachError(
                        f"A project named {project!r} was made while this one was imported; "
                        "import it under another name."
                    ) from None
            except BaseException:
                shutil.rmtree(unpacked, ignore_errors=True)
                raise
            finally:
                os.close(lock)
        return self.counts(project)


def _unpack(archive: zipfile.ZipFile, entry: str, target: Path) -> None:
    try:
        with archive.open(entry) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out)
    # (NotImplementedError, a RuntimeError: a feature zipfile does not read; ValueError: a
    # name that is not the UTF-8 its header says)
    except (zipfile.BadZipFile, EOFError, zlib.error, RuntimeError, ValueError) as exc:
        raise TeachError(
            f"The archive's entry {entry!r} cannot be read ({exc}): the zip is damaged or cut short; "
            "export the project again."
        ) from None


def _too_big(size: int, room: int, limits: TeachLimits) -> str:
    return (
        f"That archive holds {size / 1e6:.1f} MB, and the teach store has {max(room, 0) / 1e6:.1f} MB left "
        f"of its {limits.max_bytes / 1e6:.0f} MB (max_bytes); delete samples or projects first."
    )


#: What an export holds beside its samples (meta.json and model.keras: the model is retrained here).
BESIDES_SAMPLES = ("meta.json", "model.keras")


def check_archive(entries: list[zipfile.ZipInfo], limits: TeachLimits, room: int) -> dict[str, list[tuple[str, str]]]:
    """The samples in an exported project's zip, {class: [(entry, sample id)]}, from its
    directory alone, or a TeachError that names the first entry it cannot take: anything
    but samples/<class>/<id>.jpg (and the export's meta.json and model.keras), a path that
    is absolute or climbs out (..), a link, an encrypted or patched entry, a compression other than
    stored or deflated, a name twice, more classes, samples or bytes than `limits` allow
    and `room` (the bytes the store has left) holds."""
    way_out = "import only a zip that `brain teach export` wrote."
    samples: dict[str, list[tuple[str, str]]] = {}
    seen, total = set(), 0
    for info in entries:
        name = info.filename
        parts = re.split(r"[/\\]", name)
        said = f"The archive's entry {name!r}"
        if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
            raise TeachError(f"{said} is an absolute path; {way_out}")
        if ".." in parts:
            raise TeachError(f"{said} climbs out of its folder (..); {way_out}")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise TeachError(f"{said} is a symbolic link; {way_out}")
        if info.flag_bits & ENCRYPTED_FLAGS:
            raise TeachError(f"{said} is encrypted; export the project again, without a password.")
        if info.flag_bits & PATCHED_FLAG:
            raise TeachError(f"{said} holds compressed patched data, which this brain cannot read; {way_out}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise TeachError(
                f"{said} is compressed with method {info.compress_type} (only stored and deflated are read); {way_out}"
            )
        if name in seen:
            raise TeachError(f"{said} is in the archive twice; {way_out}")
        seen.add(name)
        folder = name == "samples/" or (len(parts) == 3 and parts[0] == "samples" and not parts[2])
        if folder or name in BESIDES_SAMPLES:
            continue  # (what is retrained here is not read)
        stem = parts[2][: -len(".jpg")] if len(parts) == 3 and parts[2].endswith(".jpg") else ""
        if parts[0] != "samples" or not SAMPLE.fullmatch(stem) or info.is_dir():
            raise TeachError(f"{said} is not a sample of a teach export (samples/<class>/<id>.jpg); {way_out}")
        if not NAME.match(parts[1]) or parts[1].strip() != parts[1]:
            raise TeachError(
                f"{said} is in {parts[1]!r}, which is not a class name; rename that class and export again."
            )
        samples.setdefault(parts[1], []).append((name, stem))
        total += info.file_size
    if not samples:
        raise TeachError(f"The archive holds no samples (samples/<class>/<id>.jpg); {way_out}")
    if len(samples) > limits.max_classes:
        raise TeachError(
            f"The archive holds {len(samples)} classes; this brain keeps at most {limits.max_classes} a project "
            "(max_classes)."
        )
    for label, taken in samples.items():
        if len(taken) > limits.max_samples_per_class:
            raise TeachError(
                f"The archive's class {label!r} has {len(taken)} samples; this brain keeps at most "
                f"{limits.max_samples_per_class} a class (max_samples_per_class)."
            )
    if total > room:
        raise TeachError(_too_big(total, room, limits))
    return samples
