"""Writing generated images with provenance: folders of PNGs (metadata in a text chunk), npz,
a StyleGAN dataset zip, and ``manifest.csv``; an interrupted export is cleaned up or resumed."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ganaug.data.imageset import ImageSet
from ganaug.data.sources import write_stylegan_dataset
from ganaug.errors import UserError
from ganaug.generation.result import MANIFEST_FIELDS, GenerateResult
from ganaug.utils import (
    atomic_open,
    atomic_write_json,
    class_folder_names,
    png_bytes,
    read_json,
    sha256_bytes,
)

# ----------------------------------------------------------------------------
# Export with provenance


def _synthetic_meta(result: GenerateResult, i: int) -> dict[str, Any]:
    snap = Path(result.snapshot)
    return {
        "kind": "synthetic",
        "run": snap.parent.name,
        "snapshot": snap.name,
        "kimg": round(result.kimg, 3),
        "seed": int(result.seeds[i]),
        "class": result.images.class_names[int(result.images.labels[i])],
        "truncation": result.truncation,
    }


PARTIAL_MARKER = ".ganaug-export-partial.json"  # lists an export's files while it is being written


def export(
    result: GenerateResult,
    out: str | Path,
    *,
    formats: Iterable[str] = ("folder",),
    real: ImageSet | None = None,
    overwrite: bool = False,
) -> Path:
    """Write synthetic (and optionally real) images with a manifest. Returns the output folder.

    A folder holding an earlier export (a ``manifest.csv``) is refused unless ``overwrite``: then
    the files that manifest lists are removed first, so no image is left without provenance.
    Class folders get safe names (:func:`ganaug.utils.class_folder_names`: a class name is data,
    never a path); each manifest row gives the file and its class name. The files to write are
    listed in a marker file first and the marker is removed last, so an export stopped half-way
    is recognised, and replaced with ``overwrite``.
    """
    out = Path(out)
    formats = set(formats)
    unknown = formats - {"folder", "zip", "npz"}
    if unknown:
        raise UserError(f"unknown export format(s): {', '.join(sorted(unknown))} (use folder, zip, npz)")
    _make_room(out, overwrite)
    syn = result.images
    real_rel, syn_rel = _folder_paths(result, real) if "folder" in formats else ([], [])
    planned = [p.as_posix() for p in real_rel + syn_rel] + [
        n for f, n in (("npz", "images.npz"), ("zip", "dataset.zip")) if f in formats
    ]
    atomic_write_json(out / PARTIAL_MARKER, {"files": planned})
    rows: list[dict[str, Any]] = []
    files: list[Path] = []
    if "folder" in formats:
        rows += _write_folder(out, result, real, real_rel, syn_rel)
        files += [out / r["file"] for r in rows]
    if "npz" in formats:
        combined = ImageSet.concat([real, syn]) if real is not None else syn
        combined.save_npz(out / "images.npz")
        files.append(out / "images.npz")
        if "folder" not in formats:
            rows += _container_rows(result, real, "images.npz")
    if "zip" in formats:
        combined = ImageSet.concat([real, syn]) if real is not None else syn
        write_stylegan_dataset(combined, out / "dataset.zip", overwrite=True)
        files.append(out / "dataset.zip")
        if not ({"folder", "npz"} & formats):
            rows += _container_rows(result, real, "dataset.zip")
    with atomic_open(out / "manifest.csv", "w") as f:
        w = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    (out / PARTIAL_MARKER).unlink()
    result.out = out
    result.files = files
    return out


def _make_room(out: Path, overwrite: bool) -> None:
    """Refuse a folder holding anything but an earlier export; remove that export's files if ``overwrite``."""
    if (out / "manifest.csv").exists() or (out / PARTIAL_MARKER).exists():
        if not overwrite:
            what = (
                "an export (manifest.csv)"
                if (out / "manifest.csv").exists()
                else "an unfinished export (its writer was stopped)"
            )
            raise UserError(
                f"{out} already holds {what}; choose another --out, or pass --overwrite to replace it"
            )
        _remove_export(out)
    elif out.exists() and any(out.iterdir()):
        raise UserError(f"{out} is not empty and holds no ganaug export; choose an empty or new --out folder")
    out.mkdir(parents=True, exist_ok=True)


def _folder_paths(result: GenerateResult, real: ImageSet | None) -> tuple[list[Path], list[Path]]:
    """Relative PNG paths of the real and the synthetic images, in safe per-class folders."""
    syn = result.images
    names = list(dict.fromkeys([*syn.class_names, *(real.class_names if real is not None else [])]))
    folder_of = dict(zip(names, class_folder_names(names)))
    real_rel = (
        []
        if real is None
        else [
            Path(folder_of[real.class_names[int(real.labels[i])]]) / f"real_{i:06d}.png"
            for i in range(len(real))
        ]
    )
    syn_rel = [
        Path(folder_of[syn.class_names[int(syn.labels[i])]]) / f"syn_{int(result.seeds[i]):06d}.png"
        for i in range(len(syn))
    ]
    return real_rel, syn_rel


def _write_folder(
    out: Path,
    result: GenerateResult,
    real: ImageSet | None,
    real_rel: list[Path],
    syn_rel: list[Path],
) -> list[dict[str, Any]]:
    """Write the PNGs (provenance in a text chunk); their manifest rows."""
    rows: list[dict[str, Any]] = []
    for i, rel in enumerate(real_rel):
        data = png_bytes(real.images[i], {"kind": "real", "source": real.paths[i]})
        _write(out / rel, data)
        rows.append(
            {
                "file": rel.as_posix(),
                "kind": "real",
                "class": real.class_names[int(real.labels[i])],
                "label": int(real.labels[i]),
                "source": real.paths[i],
                "sha256": real.hashes[i],
            }
        )
    syn = result.images
    for i, rel in enumerate(syn_rel):
        meta = _synthetic_meta(result, i)
        data = png_bytes(syn.images[i], meta)
        _write(out / rel, data)
        rows.append(
            {
                "file": rel.as_posix(),
                "label": int(syn.labels[i]),
                "source": "",
                "sha256": sha256_bytes(data),
                **meta,
            }
        )
    return rows


def _remove_export(out: Path) -> None:
    """Remove the files an earlier export wrote (as its manifest, or the marker of an unfinished
    export, lists them), then the manifest and the marker. Nothing outside ``out`` is touched."""
    names = (
        [row["file"].split("#", 1)[0] for row in read_manifest(out)]
        if (out / "manifest.csv").exists()
        else []
    )
    marker = out / PARTIAL_MARKER
    if marker.exists():
        try:
            names += list(read_json(marker).get("files", []))
        except (OSError, ValueError, AttributeError):
            pass
    root = out.resolve()
    for name in names:
        target = (out / name).resolve()
        if root in target.parents and target.is_file():
            target.unlink()
    for d in sorted((p for p in out.iterdir() if p.is_dir()), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    for f in (out / "manifest.csv", marker):
        f.unlink(missing_ok=True)


def _container_rows(result: GenerateResult, real: ImageSet | None, container: str) -> list[dict]:
    rows = []
    offset = 0
    if real is not None:
        for i in range(len(real)):
            rows.append(
                {
                    "file": f"{container}#{i}",
                    "kind": "real",
                    "class": real.class_names[int(real.labels[i])],
                    "label": int(real.labels[i]),
                    "source": real.paths[i],
                    "sha256": real.hashes[i],
                }
            )
        offset = len(real)
    for i in range(len(result.images)):
        meta = _synthetic_meta(result, i)
        rows.append(
            {
                "file": f"{container}#{offset + i}",
                "label": int(result.images.labels[i]),
                "sha256": result.images.hashes[i],
                "source": "",
                **meta,
            }
        )
    return rows


def _write(path: Path, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def read_manifest(out: str | Path) -> list[dict[str, str]]:
    with open(Path(out) / "manifest.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
