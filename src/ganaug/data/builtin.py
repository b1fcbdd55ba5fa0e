"""Embedded demo data sets, shipped inside the package (``data/builtin/*.npz``).

``fashion-demo``: a scarce, imbalanced 3-class subset of Fashion-MNIST (tshirt / pullover /
shirt, shirt rare) with a predefined real test partition; see ``builtin/PROVENANCE.md`` and
``scripts/build_demo_dataset.py``. Use it as ``load("builtin:fashion-demo")``,
``load_builtin("fashion-demo")`` (both in :mod:`ganaug.data.sources`) or
``ganaug prepare --builtin fashion-demo --out DIR``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from ganaug.errors import UserError

BUILTINS = {
    "fashion-demo": "fashion-demo.npz",
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
