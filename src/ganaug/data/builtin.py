"""Embedded demo data sets, shipped inside the package (``data/builtin/*.npz``).

``fashion-demo``: a scarce, imbalanced 3-class subset of Fashion-MNIST (tshirt / pullover /
shirt, shirt rare) with a predefined real test partition; see ``builtin/PROVENANCE.md`` and
``scripts/build_demo_dataset.py``. Use it as ``load("builtin:fashion-demo")``,
``load_builtin("fashion-demo")`` (both in :mod:`ganaug.data.sources`) or
``ganaug prepare --builtin fashion-demo --out DIR``.

Embedded GAN snapshots, for transfer learning (``--transfer builtin:NAME``), shipped beside them
(``data/builtin/*.pt``, state dicts + config like any ganaug snapshot):

``fashion-garments``: a conditional StyleGAN2 (``cpu`` preset, 32 px, grayscale) pretrained on the
Fashion-MNIST classes trouser, dress, coat and bag of the official training file, none of them a class
of ``fashion-demo``; see ``builtin/PROVENANCE-fashion-garments.md`` and
``scripts/build_demo_source.py``. A starting point for the demo's few-shot classes, as a user
would start from a model pretrained on related images.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from ganaug.errors import UserError

BUILTINS = {
    "fashion-demo": "fashion-demo.npz",
}
BUILTIN_SNAPSHOTS = {
    "fashion-garments": "fashion-garments-sg2.pt",
}


def builtin_names() -> list[str]:
    return sorted(BUILTINS)


def builtin_path(name: str) -> Path:
    """Path of the npz of an embedded data set (works from an installed package)."""
    if name not in BUILTINS:
        raise UserError(f"unknown builtin data set {name!r}; available: {', '.join(builtin_names())}")
    res = files("ganaug.data").joinpath("builtin", BUILTINS[name])
    path = Path(str(res))
    if not path.is_file():
        raise UserError(
            f"builtin data set {name!r} is missing from this installation ({path}); "
            "rebuild it with `make dataset` (scripts/build_demo_dataset.py)"
        )
    return path


def builtin_snapshot_path(name: str) -> Path:
    """Path of an embedded GAN snapshot (``builtin:NAME`` as a transfer source)."""
    if name not in BUILTIN_SNAPSHOTS:
        raise UserError(
            f"unknown builtin GAN snapshot {name!r}; available: {', '.join(sorted(BUILTIN_SNAPSHOTS))}"
        )
    path = Path(str(files("ganaug.data").joinpath("builtin", BUILTIN_SNAPSHOTS[name])))
    if not path.is_file():
        raise UserError(
            f"builtin GAN snapshot {name!r} is missing from this installation ({path}); "
            "rebuild it with scripts/build_demo_source.py"
        )
    return path
