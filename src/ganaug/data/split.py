"""Stratified train/val/test splits that never leak.

Invariants (tested):

* same data + same seed -> same split, whatever order the files were listed in (groups are
  ordered by content hash before the seeded shuffle);
* per class, val and test sizes are ``round(n * fraction)`` (within one image);
* images with the same content hash (duplicates) always land in the same split;
* a predefined test partition (IDX t10k files, the builtin demo set) is honoured as is;
* scarcity / imbalance options (``per_class_limit``, ``imbalance``) only shrink ``train``;
  the kept images are a nested, seeded choice (a limit of 20 keeps a subset of a limit of 50).

A split is saved as ``split.json`` in a prepared folder (:mod:`ganaug.data.prepared`).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ganaug.data.imageset import ImageSet
from ganaug.errors import DataError, UserError
from ganaug.utils import atomic_write_json, read_json

SPLITS = ("train", "val", "test")
SPLIT_VERSION = 1


@dataclass
class Split:
    """Indices of each split into one ImageSet, with the paths and hashes they had."""

    seed: int
    val_fraction: float
    test_fraction: float
    class_names: list[str]
    indices: dict[str, list[int]]  # "train" / "val" / "test" -> sorted indices
    paths: dict[str, list[str]]
    hashes: dict[str, list[str]]
    num_images: int
    dropped: list[dict[str, Any]] = field(
        default_factory=list
    )  # {index, path, hash, reason}, never trained on
    options: dict[str, Any] = field(default_factory=dict)  # scarcity options applied, predefined test, ...
    notes: list[str] = field(default_factory=list)

    @property
    def train(self) -> list[int]:
        return self.indices["train"]

    @property
    def val(self) -> list[int]:
        return self.indices["val"]

    @property
    def test(self) -> list[int]:
        return self.indices["test"]

    def counts(self, labels: np.ndarray | None = None) -> dict[str, dict[str, int]]:
        """Images per class in each split (needs the labels; stored counts otherwise)."""
        if labels is None:
            return self.options.get("counts", {})
        return {
            s: {c: int((labels[self.indices[s]] == k).sum()) for k, c in enumerate(self.class_names)}
            for s in SPLITS
        }

    # -- persistence -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SPLIT_VERSION,
            "seed": self.seed,
            "val_fraction": self.val_fraction,
            "test_fraction": self.test_fraction,
            "class_names": self.class_names,
            "num_images": self.num_images,
            "options": self.options,
            "notes": self.notes,
            "splits": {
                s: {"indices": self.indices[s], "paths": self.paths[s], "hashes": self.hashes[s]}
                for s in SPLITS
            },
            "dropped": self.dropped,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Split:
        try:
            splits = d["splits"]
            return cls(
                seed=int(d["seed"]),
                val_fraction=float(d["val_fraction"]),
                test_fraction=float(d["test_fraction"]),
                class_names=list(d["class_names"]),
                indices={s: [int(i) for i in splits[s]["indices"]] for s in SPLITS},
                paths={s: list(splits[s]["paths"]) for s in SPLITS},
                hashes={s: list(splits[s]["hashes"]) for s in SPLITS},
                num_images=int(d["num_images"]),
                dropped=list(d.get("dropped", [])),
                options=dict(d.get("options", {})),
                notes=list(d.get("notes", [])),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"split.json is malformed ({type(e).__name__}: {e})") from None

    def save(self, path: str | os.PathLike) -> None:
        atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Split:
        try:
            return cls.from_dict(read_json(path))
        except ValueError as e:  # JSON decode error
            raise DataError(f"{path} is not valid JSON ({e})") from None


# ----------------------------------------------------------------------------
# Making splits


def _round(x: float) -> int:
    return math.floor(x + 0.5)


def _groups(imageset: ImageSet, index: Sequence[int]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i in index:
        groups.setdefault(imageset.hashes[i], []).append(int(i))
    return groups


def _group_label(imageset: ImageSet, members: list[int]) -> int:
    labels = imageset.labels[members]
    return int(np.bincount(labels).argmax())  # majority; ties -> smallest index


def check_fractions(val: float, test: float) -> None:
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise UserError(
            f"val and test fractions must be in [0, 1) with val + test < 1; got val={val}, test={test}"
        )


def make_split(
    imageset: ImageSet,
    seed: int = 0,
    val: float = 0.15,
    test: float = 0.2,
    *,
    partition: Sequence[str] | None = None,  # predefined "train"/"test" per image: test honoured as is
) -> Split:
    """Stratified split by class with duplicate groups kept together."""
    check_fractions(val, test)
    n = len(imageset)
    notes: list[str] = []
    dropped: list[dict[str, Any]] = []
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    if partition is not None:
        if len(partition) != n:
            raise DataError(f"partition has {len(partition)} entries for {n} images")
        test_idx = [i for i in range(n) if partition[i] == "test"]
        test_hashes = {imageset.hashes[i] for i in test_idx}
        out["test"] = test_idx
        pool = []
        for i in range(n):
            if partition[i] == "test":
                continue
            if imageset.hashes[i] in test_hashes:  # a copy of a test image must not be trained on
                dropped.append(
                    _drop(imageset, i, "same content as an image of the predefined test partition")
                )
            else:
                pool.append(i)
        fractions = {"val": val, "test": 0.0}
        notes.append(
            f"predefined test partition honoured ({len(test_idx)} images); val is {val:g} of the rest"
        )
    else:
        pool = list(range(n))
        fractions = {"val": val, "test": test}

    # Per class: groups ordered by hash, shuffled with the seed, dealt to test, val, then train.
    by_class: dict[int, list[list[int]]] = {}
    for _h, members in sorted(_groups(imageset, pool).items()):
        by_class.setdefault(_group_label(imageset, members), []).append(members)
    for c in sorted(by_class):
        groups = by_class[c]
        rng = np.random.default_rng([seed, c])
        order = rng.permutation(len(groups))
        total = sum(len(g) for g in groups)
        want = {s: _round(total * fractions[s]) for s in ("test", "val")}
        if want["test"] + want["val"] >= total:  # keep at least one training image
            want["val"] = max(0, total - 1 - want["test"])
            want["test"] = min(want["test"], total - 1)
        got = {"test": 0, "val": 0}
        for k in order:
            g = groups[k]
            for s in ("test", "val"):
                if got[s] + len(g) <= want[s]:
                    out[s].extend(g)
                    got[s] += len(g)
                    break
            else:
                out["train"].extend(g)
        if any(fractions[s] > 0 and got[s] == 0 for s in ("val", "test")):
            notes.append(
                f"class {imageset.class_names[c]!r} has only {total} images: "
                f"{got['val']} val, {got['test']} test"
            )

    indices = {s: sorted(out[s]) for s in SPLITS}
    return Split(
        seed=int(seed),
        val_fraction=float(val),
        test_fraction=float(test) if partition is None else float(len(indices["test"]) / max(n, 1)),
        class_names=list(imageset.class_names),
        indices=indices,
        paths={s: [imageset.paths[i] for i in indices[s]] for s in SPLITS},
        hashes={s: [imageset.hashes[i] for i in indices[s]] for s in SPLITS},
        num_images=n,
        dropped=dropped,
        options={"predefined_test": partition is not None},
        notes=notes,
    )


def _drop(imageset: ImageSet, i: int, reason: str) -> dict[str, Any]:
    return {"index": int(i), "path": imageset.paths[i], "hash": imageset.hashes[i], "reason": reason}


def parse_imbalance(spec: str | Mapping[str, int] | None) -> dict[str, int]:
    """``"coat=20,pullover=500"`` -> ``{"coat": 20, "pullover": 500}``."""
    if spec is None or spec == "":
        return {}
    if isinstance(spec, Mapping):
        items = spec.items()
    else:
        items = []
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, value = part.rpartition("=")
            if not sep or not name.strip():
                raise UserError(
                    f"bad --imbalance entry {part!r}; expected CLASS=COUNT, e.g. coat=20,pullover=500"
                )
            items.append((name.strip(), value.strip()))
    out = {}
    for name, value in items:
        try:
            v = int(value)
        except (TypeError, ValueError):
            raise UserError(f"bad count {value!r} for class {name!r} in --imbalance") from None
        if v < 0:
            raise UserError(f"count for class {name!r} must be >= 0, got {v}")
        if str(name) in out:
            raise UserError(f"--imbalance names class {name!r} twice; give each class once")
        out[str(name)] = v
    return out


def restrict_train(
    split: Split,
    imageset: ImageSet,
    *,
    per_class_limit: int | None = None,  # at most N training images per class
    imbalance: str | Mapping[str, int] | None = None,  # per-class training counts, "coat=20,pullover=500"
) -> Split:
    """Shrink the training split only (val and test stay as they are).

    The kept images per class are the first N in an order given by hashing (seed, content hash):
    reproducible, nested across N, and duplicates stay together.
    """
    limits = parse_imbalance(imbalance)
    for name in limits:
        if name not in imageset.class_names:
            raise DataError(
                f"--imbalance names unknown class {name!r}; classes are: {', '.join(imageset.class_names)}"
            )
    if per_class_limit is not None and per_class_limit < 0:
        raise UserError(f"per_class_limit must be >= 0, got {per_class_limit}")
    options = dict(split.options, per_class_limit=per_class_limit, imbalance=dict(sorted(limits.items())))
    if per_class_limit is None and not limits:
        return _replace_train(split, imageset, split.train, [], options, [])

    notes = []
    keep, removed = [], []
    train = np.array(split.train, dtype=np.int64)
    for c, name in enumerate(imageset.class_names):
        idx = train[imageset.labels[train] == c]
        cap = (
            min(v for v in (per_class_limit, limits.get(name)) if v is not None)
            if (per_class_limit is not None or name in limits)
            else None
        )
        if cap is None or cap >= len(idx):
            if cap is not None and cap > len(idx):
                notes.append(
                    f"class {name!r}: {cap} training images asked, only {len(idx)} available; kept all"
                )
            keep.extend(idx.tolist())
            continue
        order = sorted(idx.tolist(), key=lambda i: (_rank(split.seed, imageset.hashes[i]), i))
        keep.extend(order[:cap])
        removed.extend(order[cap:])
        if cap == 0:
            notes.append(
                f"class {name!r}: no training images kept; the GAN cannot learn it and the classifier "
                "never trains on it"
            )
    reason = "left out of train by " + ", ".join(
        ([f"per_class_limit={per_class_limit}"] if per_class_limit is not None else [])
        + ([f"imbalance={','.join(f'{k}={v}' for k, v in limits.items())}"] if limits else [])
    )
    return _replace_train(
        split, imageset, keep, [_drop(imageset, i, reason) for i in sorted(removed)], options, notes
    )


def _rank(seed: int, h: str) -> str:
    return hashlib.sha256(f"{seed}:{h}".encode()).hexdigest()


def _replace_train(split: Split, imageset: ImageSet, train, dropped, options, notes) -> Split:
    indices = dict(split.indices, train=sorted(int(i) for i in train))
    new = Split(
        seed=split.seed,
        val_fraction=split.val_fraction,
        test_fraction=split.test_fraction,
        class_names=split.class_names,
        indices=indices,
        paths=dict(split.paths, train=[imageset.paths[i] for i in indices["train"]]),
        hashes=dict(split.hashes, train=[imageset.hashes[i] for i in indices["train"]]),
        num_images=split.num_images,
        dropped=split.dropped + dropped,
        options=options,
        notes=split.notes + notes,
    )
    new.options["counts"] = new.counts(imageset.labels)
    return new


def apply_split(imageset: ImageSet, split: Split) -> dict[str, ImageSet]:
    """{"train", "val", "test"} -> ImageSet, after checking the hashes still match."""
    verify_split(imageset, split)
    return {s: imageset.subset(split.indices[s]) for s in SPLITS}


def verify_split(imageset: ImageSet, split: Split, where: str = "the image set") -> None:
    if split.num_images != len(imageset):
        raise DataError(
            f"split.json was made for {split.num_images} images but {where} has {len(imageset)}; "
            "re-run `ganaug prepare ... --overwrite`"
        )
    if list(split.class_names) != list(imageset.class_names):
        raise DataError(
            f"split.json classes {split.class_names} differ from {where}'s {imageset.class_names}"
        )
    bad = []
    for s in SPLITS:
        for i, h in zip(split.indices[s], split.hashes[s]):
            if not 0 <= i < len(imageset) or imageset.hashes[i] != h:
                bad.append((s, i))
    if bad:
        s, i = bad[0]
        raise DataError(
            f"split.json does not match {where}: {len(bad)} image hash(es) differ (first: {s} index {i}). "
            "The prepared folder was modified; re-run `ganaug prepare ... --overwrite`."
        )
