"""Small shared helpers: atomic writes, JSON, PNG, hashing, seeding, devices."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import pickle
import random
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from ganaug.errors import CheckpointError, UserError

_UMASK = os.umask(0)
os.umask(_UMASK)

# ----------------------------------------------------------------------------
# Atomic writes: write to a temp file in the same folder, fsync, then rename.
# A process killed at any point leaves either the old file or the new one.


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[Any]:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        if e.filename is None:
            e.filename = str(path)
        raise
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs are meant to be shared
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename is None:  # ENOSPC from write/fsync names no file
            e.filename = str(path)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "to_dict"):
        return o.to_dict()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def json_safe(o: Any) -> Any:
    """``o`` as strict JSON can hold it: NaN and infinities become None (null), numpy scalars and
    arrays become Python numbers and lists, tuples become lists, dict keys become strings."""
    if isinstance(o, dict):
        return {str(k): json_safe(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [json_safe(v) for v in o]
    if isinstance(o, np.ndarray):
        return json_safe(o.tolist())
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, (float, np.floating)):
        o = float(o)
        return o if math.isfinite(o) else None
    return o


def is_missing(x: Any) -> bool:
    """None or a float NaN: a value a summary leaves out (JSON stores NaN as null)."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one JSON line. Lines are small; a torn last line is skipped by read_jsonl."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, default=_json_default) + "\n")
        f.flush()


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    out = []
    if not Path(path).exists():
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # torn line from a killed process
                continue
    return out


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    import torch  # here, not at the top: the CLI imports this module and must start without torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_tensors(path: str | Path, map_location: Any = "cpu") -> Any:
    """``torch.load(weights_only=True)``; a file holding other pickled objects is refused with our own
    message (PyTorch's suggests retrying with weights_only=False, which would run the file's code)."""
    import torch  # here, not at the top: the CLI imports this module and must start without torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        what = str(e).split("WeightsUnpickler error:", 1)[-1].strip().splitlines()[0] if str(e) else ""
        raise CheckpointError(
            f"refused {path}: it holds pickled Python objects besides tensors ({what[:200]}), and loading such a "
            "file may run code. ganaug loads only plain tensors and config values; use a file ganaug (or "
            "torch.save of a state dict) wrote"
        ) from None


# ----------------------------------------------------------------------------
# Images


def to_pil(img: np.ndarray) -> Image.Image:
    """A uint8 image in ganaug's layout (C x H x W, C = 1 or 3) as a PIL image (L or RGB)."""
    arr = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
    return Image.fromarray(np.ascontiguousarray(arr))


def png_bytes(img: np.ndarray | Image.Image, meta: dict[str, Any] | None = None) -> bytes:
    """PNG file bytes of a uint8 C x H x W array or a PIL image; ``meta`` (JSON) goes into a
    ``ganaug`` text chunk, so an exported image carries its provenance."""
    pil = img if isinstance(img, Image.Image) else to_pil(img)
    info = None
    if meta:
        info = PngImagePlugin.PngInfo()
        info.add_text("ganaug", json.dumps(meta, sort_keys=True))
    buf = io.BytesIO()
    pil.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


# ----------------------------------------------------------------------------
# Hashing


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------
# Seeding and devices (torch is imported inside each function: see atomic_torch_save)


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (else mixed precision stays off on CPU)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:
        return False


def resolve_device(device: str | None = None):
    """'auto' / None -> cuda when available, else cpu."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UserError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {device!r} requested but CUDA is not available on this machine")
    return dev


def next_run_dir(root: str | os.PathLike, desc: str) -> Path:
    """Numbered run folder, StyleGAN style: ``root/00003-desc``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    ids = []
    for p in root.iterdir():
        head = p.name.split("-", 1)[0]
        if p.is_dir() and head.isdigit():
            ids.append(int(head))
    run_id = max(ids, default=-1) + 1
    path = root / f"{run_id:05d}-{desc}"
    path.mkdir()
    return path


# ----------------------------------------------------------------------------
# Class names as folder names

_UNSAFE = set('/\\:*?"<>|')
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def class_folder_names(names: list[str] | tuple[str, ...], max_bytes: int = 100) -> list[str]:
    """A safe, distinct folder name per class name (class names are data, never paths).

    Unicode is NFC-normalised; path separators, NUL and other control or reserved characters
    become ``_``; leading/trailing dots and spaces are stripped (no ``.``, ``..`` or hidden
    folders); Windows device names get a ``_``; an empty result becomes ``class_<index>``; long
    names are cut to ``max_bytes`` of UTF-8. Names that still collide (also ignoring case, for
    case-insensitive file systems) get ``_2``, ``_3``... in order. Ordinary names are unchanged.
    """
    out: list[str] = []
    used: set[str] = set()
    for i, name in enumerate(names):
        s = unicodedata.normalize("NFC", str(name))
        s = "".join("_" if (c in _UNSAFE or ord(c) < 32 or ord(c) == 127) else c for c in s)
        s = s.strip(" .")
        while len(s.encode("utf-8")) > max_bytes:
            s = s[:-1]
        s = s.rstrip(" .")
        if s.split(".", 1)[0].casefold() in _RESERVED:
            s += "_"
        if not s:
            s = f"class_{i}"
        base, k = s, 2
        while s.casefold() in used:
            s = f"{base}_{k}"
            k += 1
        used.add(s.casefold())
        out.append(s)
    return out


def spread_indices(n: int, limit: int) -> list[int]:
    """``range(n)`` when ``n <= limit``, else ``limit`` evenly spaced indices (first and last included):
    a deterministic, readable subset of many classes for grids and plots."""
    if n <= limit:
        return list(range(n))
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, limit)})
