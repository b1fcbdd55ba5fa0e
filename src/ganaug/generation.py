"""Synthesis: images per class from fixed seeds, class balancing, export with provenance.

An image is a pure function of (snapshot, class, seed, truncation): its z comes from
``torch.Generator().manual_seed(seed)`` and its StyleGAN2 noise from a generator seeded from the
same seed (random per image, not one constant noise image stamped on every fake), so the same
seed gives the same image on the same device, whatever the batch it was generated in.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ganaug.checkpoint import load_generator
from ganaug.classify import fit_classifier, predict_proba
from ganaug.data.imageset import ImageSet
from ganaug.data.prepared import is_prepared, load_prepared
from ganaug.data.preprocess import center_crop_array, convert_channels, resize_imageset
from ganaug.data.sources import write_stylegan_dataset
from ganaug.errors import UserError
from ganaug.models.classifier import Classifier
from ganaug.utils import (
    atomic_open,
    atomic_write_json,
    class_folder_names,
    png_bytes,
    read_json,
    resolve_device,
    sha256_bytes,
)

MANIFEST_FIELDS = [
    "file",
    "kind",
    "class",
    "label",
    "source",
    "run",
    "snapshot",
    "kimg",
    "seed",
    "truncation",
    "sha256",
]


@dataclass
class GenerateResult:
    images: ImageSet  # synthetic images; paths are "synthetic:<class>/seed<k>"
    seeds: np.ndarray  # seed of each image
    snapshot: str
    kimg: float
    truncation: float
    out: Path | None = None
    files: list[Path] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # quality filter: rejected per class

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.images.counts().items())
        return f"GenerateResult({len(self.images)} images [{counts}], snapshot={Path(self.snapshot).name}, out={self.out})"

    def _repr_html_(self) -> str:
        return self.images._repr_html_()


def parse_seeds(spec: str | Sequence[int] | None, n: int | None = None) -> list[int]:
    """'0-499', '1,5,9', '0-9,20-29' or a list of non-negative seeds; or range(n). Not both."""
    if spec is None or spec == "":
        if n is None:
            raise UserError("give --n or --seeds")
        if n > 0:
            _check_seed_range(0, n - 1)
        return list(range(n))
    if n is not None:
        raise UserError("give --n or --seeds, not both (--n N means seeds 0..N-1)")
    if not isinstance(spec, str):
        seeds = [int(s) for s in spec]
    else:
        seeds = []
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                if "-" in part:
                    a, b = part.split("-", 1)
                    lo, hi = int(a), int(b)
                    if hi < lo:
                        raise UserError(f"seed range {part!r} is empty: write it low-high, e.g. 0-499")
                    _check_seed_range(lo, hi, len(seeds))
                    seeds.extend(range(lo, hi + 1))
                else:
                    seeds.append(int(part))
            except ValueError:
                raise UserError(
                    f"cannot read seeds {spec!r}: use non-negative seeds like 0-499 or 1,5,9"
                ) from None
    if not seeds:
        raise UserError(f"no seeds in {spec!r}")
    _check_seed_range(min(seeds), max(seeds), len(seeds) - 1)
    return seeds


MAX_SEED = 2**32 - 1  # as StyleGAN: seeds are 32-bit
MAX_SEEDS = 10_000_000  # images per class in one call


def _check_seed_range(lo: int, hi: int, already: int = 0) -> None:
    if lo < 0:
        raise UserError("seeds must be >= 0")
    if hi > MAX_SEED:
        raise UserError(f"seed {hi} is too large: seeds go from 0 to {MAX_SEED}")
    if hi - lo + 1 + already > MAX_SEEDS:
        raise UserError(
            f"{hi - lo + 1 + already} seeds per class is too many for one call (at most {MAX_SEEDS})"
        )


def _latents(seeds: Sequence[int], z_dim: int) -> torch.Tensor:
    return torch.stack([torch.randn(z_dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds])


_NOISE_SEED_OFFSET = 2**62  # the noise stream of seed s must not be the z stream of any other seed


def _noise_kwargs(G: torch.nn.Module, seeds: Sequence[int]) -> dict:
    """StyleGAN2: per-image random noise from the image's seed. (Constant noise adds the same noise
    image to every fake: a shared texture that measurably lowers recall, e.g. 0.09 -> 0.006 on the demo.)"""
    if not hasattr(G, "synthesis"):
        return {}
    return {
        "noise_mode": "random",
        "noise_generators": [torch.Generator().manual_seed(int(s) + _NOISE_SEED_OFFSET) for s in seeds],
    }


@torch.no_grad()
def synthesize(
    G: torch.nn.Module,
    seeds: Sequence[int],
    label: int | None,
    *,
    truncation: float = 1.0,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    progress=None,
) -> np.ndarray:
    """uint8 N x C x H x W images for ``seeds`` of class ``label`` (None: unconditional)."""
    device = torch.device(device)
    out = []
    for i in range(0, len(seeds), batch_size):
        chunk = seeds[i : i + batch_size]
        z = _latents(chunk, G.z_dim).to(device)
        c = (
            torch.full((len(chunk),), int(label), dtype=torch.long, device=device)
            if label is not None
            else None
        )
        x = G(z, c, truncation_psi=truncation, **_noise_kwargs(G, chunk)).float()
        out.append((x * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy())
        if progress is not None:
            progress.update(len(chunk))
    if not out:
        return np.zeros((0, G.img_channels, G.img_resolution, G.img_resolution), np.uint8)
    return np.concatenate(out)


def _resolve_classes(
    classes: str | Sequence[str] | None, names: list[str], conditional: bool
) -> list[int | None]:
    want = None if classes in (None, "all") else ([classes] if isinstance(classes, str) else list(classes))
    for w in want or []:
        if w not in names:
            raise UserError(f"unknown class {w!r}; this run knows: {', '.join(names)}")
    if not conditional:
        return [None]
    return list(range(len(names))) if want is None else [names.index(w) for w in want]


def generate(
    run: str | Path,
    *,
    n: int | None = None,
    classes: str | Sequence[str] | None = "all",
    seeds: str | Sequence[int] | None = None,
    truncation: float = 1.0,
    out: str | Path | None = None,
    formats: Iterable[str] = ("folder",),
    batch_size: int = 64,
    device: str = "auto",
    progress: bool = True,
    class_counts: dict[str, int] | None = None,
    overwrite: bool = False,
) -> GenerateResult:
    """Generate images from a run folder or snapshot.

    One image per seed and class (``--n N`` means seeds 0..N-1). ``class_counts`` instead asks
    for an exact count per class (seeds 0..count-1 of each). ``formats``: any of "folder"
    (class folders of PNGs with a provenance text chunk), "zip" (StyleGAN dataset zip), "npz".
    Every export writes ``manifest.csv`` with one provenance row per image; an ``out`` folder
    that already holds an export is refused unless ``overwrite`` (its listed files are replaced).
    """
    dev = resolve_device(device)
    G, info = load_generator(run, device=dev)
    names = info["class_names"] or ["synthetic"]
    conditional = getattr(G, "num_classes", 0) > 0
    # An unconditional model trained on several classes draws from their mixture: its images
    # belong to no single class and are labelled "all", never silently as the first class.
    out_names = names if conditional or len(names) == 1 else ["all"]
    if class_counts is not None:
        plan = [
            (names.index(k) if conditional else None, parse_seeds(None, v))
            for k, v in class_counts.items()
            if v > 0
        ]
        for k in class_counts:
            if k not in names:
                raise UserError(f"unknown class {k!r}; this run knows: {', '.join(names)}")
    else:
        seed_list = parse_seeds(seeds, n)
        plan = [(c, seed_list) for c in _resolve_classes(classes, names, conditional)]
    total = sum(len(s) for _, s in plan)
    images, labels, all_seeds, paths = [], [], [], []
    with tqdm(total=total, desc="generate", unit="img", disable=not progress, leave=False) as bar:
        for label, seed_list in plan:
            x = synthesize(
                G, seed_list, label, truncation=truncation, batch_size=batch_size, device=dev, progress=bar
            )
            if info["config"].crop_to:  # the data was padded to the GAN's size (config.fit): crop back
                x = center_crop_array(x, info["config"].crop_to)
            if info["config"].export_channels:  # 1-channel data trained as RGB (transfer from an RGB model)
                x = convert_channels(x, info["config"].export_channels)
            lab = 0 if label is None else label
            images.append(x)
            labels.extend([lab] * len(x))
            all_seeds.extend(seed_list)
            paths.extend(f"synthetic:{out_names[lab]}/seed{s:06d}" for s in seed_list)
    imgs = (
        np.concatenate(images)
        if images
        else np.zeros((0, G.img_channels, G.img_resolution, G.img_resolution), np.uint8)
    )
    result = GenerateResult(
        images=ImageSet(imgs, np.asarray(labels, np.int64), out_names, paths),
        seeds=np.asarray(all_seeds, np.int64),
        snapshot=info["path"],
        kimg=info["cur_nimg"] / 1000,
        truncation=truncation,
    )
    if out is not None:
        export(result, out, formats=formats, overwrite=overwrite)
    return result


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
    rows: list[dict[str, Any]] = []
    files: list[Path] = []
    syn = result.images
    names = list(dict.fromkeys([*syn.class_names, *(real.class_names if real is not None else [])]))
    folder_of = dict(zip(names, class_folder_names(names)))
    real_rel = (
        []
        if real is None or "folder" not in formats
        else [
            Path(folder_of[real.class_names[int(real.labels[i])]]) / f"real_{i:06d}.png"
            for i in range(len(real))
        ]
    )
    syn_rel = (
        []
        if "folder" not in formats
        else [
            Path(folder_of[syn.class_names[int(syn.labels[i])]]) / f"syn_{int(result.seeds[i]):06d}.png"
            for i in range(len(syn))
        ]
    )
    planned = [p.as_posix() for p in real_rel + syn_rel] + [
        n for f, n in (("npz", "images.npz"), ("zip", "dataset.zip")) if f in formats
    ]
    atomic_write_json(out / PARTIAL_MARKER, {"files": planned})
    if "folder" in formats:
        for i, rel in enumerate(real_rel):
            cls = real.class_names[int(real.labels[i])]
            data = png_bytes(real.images[i], {"kind": "real", "source": real.paths[i]})
            _write(out / rel, data)
            files.append(out / rel)
            rows.append(
                {
                    "file": rel.as_posix(),
                    "kind": "real",
                    "class": cls,
                    "label": int(real.labels[i]),
                    "source": real.paths[i],
                    "sha256": real.hashes[i],
                }
            )
        for i, rel in enumerate(syn_rel):
            meta = _synthetic_meta(result, i)
            data = png_bytes(syn.images[i], meta)
            _write(out / rel, data)
            files.append(out / rel)
            rows.append(
                {
                    "file": rel.as_posix(),
                    "label": int(syn.labels[i]),
                    "source": "",
                    "sha256": sha256_bytes(data),
                    **meta,
                }
            )
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


# ----------------------------------------------------------------------------
# Balancing


def balance_plan(counts: dict[str, int], target: str | float = "max") -> dict[str, int]:
    """How many synthetic images each class needs.

    ``target``: "max" (fill up to the majority count), an int (every class up to that count),
    or a float ratio r in (0, 1] (every class up to r x the majority count).
    """
    majority = max(counts.values()) if counts else 0
    if target == "max" or target is None:
        goal = majority
    elif isinstance(target, float) or (isinstance(target, str) and "." in target):
        r = float(target)
        if not 0 < r <= 1:
            raise UserError("a ratio target must be in (0, 1]")
        goal = int(round(r * majority))
    else:
        goal = int(target)
        if goal < 1:
            raise UserError("the target count must be >= 1")
    return {k: max(goal - v, 0) for k, v in counts.items()}


@dataclass
class BalanceResult:
    out: Path
    real_counts: dict[str, int]
    synthetic_counts: dict[str, int]
    dropped: dict[str, int]
    dataset: ImageSet

    def __repr__(self) -> str:
        rows = ", ".join(
            f"{k}: {self.real_counts[k]}+{self.synthetic_counts.get(k, 0)}" for k in self.real_counts
        )
        return f"BalanceResult(out={str(self.out)!r}, real+synthetic per class: {rows})"


def balance(
    data: Any,
    run: str | Path,
    *,
    out: str | Path,
    target: str | float = "max",
    truncation: float = 1.0,
    formats: Iterable[str] = ("folder",),
    quality_filter: bool = False,
    min_confidence: float = 0.5,
    device: str = "auto",
    progress: bool = True,
    seed_offset: int = 0,
    overwrite: bool = False,
) -> BalanceResult:
    """Fill every class of the training data up to ``target`` with synthetic images.

    ``data``: a prepared folder (its train split) or an ImageSet. The written dataset mixes real and
    synthetic images, both listed in ``manifest.csv``. Synthetic images are resized to the real
    images' size and channels. With ``quality_filter`` a classifier trained on the real training
    split (selected on the validation split) rejects synthetic images it assigns to another
    class or with confidence below ``min_confidence``; more seeds are drawn to replace them.
    """
    train, val = _train_val(data)
    need = balance_plan(train.counts(), target)
    dev = resolve_device(device)
    G, info = load_generator(run, device=dev)
    conditional = getattr(G, "num_classes", 0) > 0
    _check_run_classes(info["class_names"], conditional, train, need)

    clf = None
    if quality_filter:
        if val is None:
            raise UserError("the quality filter needs a validation split: pass a prepared folder")
        clf = fit_classifier(train, val, seed=0, device=device, progress=progress).model

    parts_img, parts_lab, parts_seed, dropped = [], [], [], {}
    for cls, count in need.items():
        if count == 0:
            continue
        k = train.class_index(cls)
        accepted, acc_seeds, dropped[cls] = _draw_class(
            G,
            train,
            k,
            count,
            conditional=conditional,
            clf=clf,
            min_confidence=min_confidence,
            truncation=truncation,
            seed_offset=seed_offset,
            dev=dev,
        )
        parts_img.append(np.stack(accepted))
        parts_lab.extend([k] * len(accepted))
        parts_seed.extend(acc_seeds)

    if parts_img:
        syn_imgs = np.concatenate(parts_img)
    else:
        syn_imgs = np.zeros((0,) + train.images.shape[1:], np.uint8)
    syn = ImageSet(
        syn_imgs,
        np.asarray(parts_lab, np.int64),
        train.class_names,
        [f"synthetic:{train.class_names[k]}/seed{s:06d}" for k, s in zip(parts_lab, parts_seed)],
    )
    gen = GenerateResult(
        syn,
        np.asarray(parts_seed, np.int64),
        info["path"],
        info["cur_nimg"] / 1000,
        truncation,
        dropped=dropped,
    )
    out = export(gen, out, formats=formats, real=train, overwrite=overwrite)
    return BalanceResult(out, train.counts(), syn.counts(), dropped, ImageSet.concat([train, syn]))


def _check_run_classes(names: list[str], conditional: bool, train: ImageSet, need: dict[str, int]) -> None:
    """Refuse a run whose classes cannot fill the classes that need images."""
    if conditional and names != train.class_names:
        raise UserError(f"the run was trained on classes {names}, the data has {train.class_names}")
    if not conditional:
        wanted = [k for k, v in need.items() if v]
        if len(names) != 1:
            raise UserError(
                f"this unconditional run was trained on a mixture of {names}: its images have no "
                "class. Train a conditional model, or one run per class (--class NAME --unconditional)"
            )
        if wanted and wanted != names:
            raise UserError(
                f"this run was trained on class {names[0]!r} only, but {', '.join(wanted)} need "
                "images; balance with a conditional run or with one run per class"
            )


def _draw_class(
    G: torch.nn.Module,
    train: ImageSet,
    k: int,  # class index in train
    count: int,  # images wanted
    *,
    conditional: bool,
    clf: Classifier | None,  # the quality filter, or None to accept every image
    min_confidence: float,
    truncation: float,
    seed_offset: int,
    dev: torch.device,
) -> tuple[list[np.ndarray], list[int], int]:
    """``count`` images of class ``k`` at the real images' size and channels, from consecutive seeds
    starting at ``seed_offset``: the accepted images, their seeds and how many were rejected. With
    a filter, seeds are drawn in batches of at least 16 (twice what is missing) until enough pass."""
    label = k if conditional else None
    accepted: list[np.ndarray] = []
    acc_seeds: list[int] = []
    next_seed = seed_offset
    rejected = 0
    while len(acc_seeds) < count:
        want = count - len(acc_seeds)
        batch_seeds = list(range(next_seed, next_seed + (want if clf is None else max(2 * want, 16))))
        next_seed = batch_seeds[-1] + 1
        x = synthesize(G, batch_seeds, label, truncation=truncation, device=dev)
        x = resize_imageset(
            ImageSet(x, np.full(len(x), k), train.class_names), train.resolution, channels=train.channels
        ).images
        keep = np.ones(len(x), bool)
        if clf is not None:
            proba = predict_proba(clf, x, device=dev)
            keep = (proba.argmax(1) == k) & (proba[:, k] >= min_confidence)
            rejected += int((~keep).sum())
        for i in np.flatnonzero(keep)[: count - len(acc_seeds)]:
            accepted.append(x[i])
            acc_seeds.append(batch_seeds[i])
        if next_seed - seed_offset > 50 * count + 1000:
            raise UserError(
                f"quality filter: only {len(acc_seeds)} of {count} '{train.class_names[k]}' images "
                f"passed after {next_seed - seed_offset} tries; lower --min-confidence or train longer"
            )
    return accepted, acc_seeds, rejected


def _train_val(data: Any) -> tuple[ImageSet, ImageSet | None]:
    if isinstance(data, ImageSet):
        return data, None
    path = Path(data)
    if is_prepared(path):
        p = load_prepared(path)
        return p.train, p.val
    raise UserError(
        f"{data} is not a prepared dataset folder: run `ganaug prepare {data} --out DIR` first, "
        "so the test split stays out of the augmented training set"
    )
