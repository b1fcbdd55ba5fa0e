"""Snapshots: plain dicts of state dicts + config, written atomically, loaded with weights_only=True.

A snapshot never contains a pickled module: the networks are rebuilt from the saved
``NetworkConfig`` and the weights loaded into them, so snapshots survive code changes
and are safe to load from untrusted sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganaug import nvlabs
from ganaug.config import NetworkConfig, TrainConfig
from ganaug.data.builtin import builtin_snapshot_path
from ganaug.errors import CheckpointError
from ganaug.models import build_generator
from ganaug.utils import atomic_torch_save, atomic_write_json, load_tensors, read_json

LATEST = "snapshot-latest.json"
FORMAT_VERSION = 1


def kimg_tag(cur_nimg: int) -> str:
    """Zero-padded kimg with three decimals, sortable as text: 10 kimg -> '000010.000'."""
    return f"{cur_nimg / 1000:010.3f}"


def snapshot_name(cur_nimg: int) -> str:
    return f"snapshot-{kimg_tag(cur_nimg)}.pt"


def save_snapshot(run_dir: str | Path, state: dict[str, Any], cur_nimg: int, keep: int | None = None) -> Path:
    """Write the snapshot atomically, then point snapshot-latest.json at it (also atomically)."""
    run_dir = Path(run_dir)
    path = run_dir / snapshot_name(cur_nimg)
    state = dict(state, format_version=FORMAT_VERSION, cur_nimg=int(cur_nimg))
    atomic_torch_save(state, path)
    atomic_write_json(
        run_dir / LATEST, {"path": path.name, "kimg": cur_nimg / 1000, "cur_nimg": int(cur_nimg)}
    )
    if keep:
        snaps = sorted(run_dir.glob("snapshot-*.pt"))
        for old in snaps[:-keep]:
            if old != path:
                old.unlink(missing_ok=True)
    return path


def find_snapshot(target: str | Path) -> Path:
    """A snapshot file, a run folder (its latest snapshot) or ``builtin:NAME`` (an embedded one)."""
    if isinstance(target, str) and target.startswith("builtin:"):
        return builtin_snapshot_path(target.split(":", 1)[1])
    target = Path(target)
    if target.is_file():
        return target
    if target.is_dir():
        latest = target / LATEST
        if latest.exists():
            try:
                path = target / read_json(latest)["path"]
            except (ValueError, KeyError) as e:
                raise CheckpointError(f"{latest} is unreadable ({e})") from None
            if path.exists():
                return path
        snaps = sorted(target.glob("snapshot-*.pt"))
        if snaps:
            return snaps[-1]
        raise CheckpointError(
            f"no snapshot in {target}: not a GAN run folder, or its run has not reached "
            "its first snapshot yet"
        )
    raise CheckpointError(f"{target} does not exist (expected a run folder or a snapshot-*.pt file)")


def find_latest_run(root: str | Path) -> Path:
    """The newest run folder under ``root`` that holds a snapshot (``--resume latest``)."""
    root = Path(root)
    runs = sorted(
        (p for p in root.glob("[0-9]*-*") if p.is_dir() and any(p.glob("snapshot-*.pt"))),
        key=lambda p: p.name,
    )
    if not runs:
        raise CheckpointError(f"--resume latest: no run with a snapshot under {root}")
    return runs[-1]


def load_snapshot(target: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A ganaug snapshot (run folder or file), or an official StyleGAN2-ADA .pkl read safely (ganaug.nvlabs)."""
    path = find_snapshot(target)
    if nvlabs.is_pickle(path):
        return dict(nvlabs.snapshot_state(path), path=str(path))
    try:
        state = load_tensors(path, map_location=map_location)
    except CheckpointError:
        raise
    except Exception as e:  # truncated file, not a torch file...
        raise CheckpointError(f"cannot load snapshot {path}: {e}") from None
    if not isinstance(state, dict) or "G_ema" not in state or "config" not in state:
        raise CheckpointError(f"{path} is not a ganaug snapshot")
    state["path"] = str(path)
    return state


def load_generator(target: str | Path, device: str | torch.device = "cpu", ema: bool = True):
    """(G, info) from a run folder or snapshot file; G in eval mode on ``device``.

    ``info`` holds ``config`` (TrainConfig), ``class_names``, ``cur_nimg`` and ``path``.
    """
    state = load_snapshot(target, map_location="cpu")
    cfg = TrainConfig.from_dict(state["config"])
    G = build_generator(cfg.network)
    G.load_state_dict(state["G_ema" if ema else "G"])
    G.eval().requires_grad_(False).to(device)
    info = {
        "config": cfg,
        "class_names": list(state.get("class_names", [])),
        "cur_nimg": int(state["cur_nimg"]),
        "path": state["path"],
    }
    return G, info


def check_compatible(src: NetworkConfig, dst: NetworkConfig) -> None:
    """Transfer learning needs the same architecture, resolution and channels."""
    for key in ("arch", "resolution", "channels"):
        a, b = getattr(src, key), getattr(dst, key)
        if a != b:
            raise CheckpointError(
                f"cannot transfer: the source snapshot has {key}={a!r} but this run needs {key}={b!r}"
            )


def import_nvlabs(path: str | Path, out: str | Path, class_names: list[str] | None = None) -> Path:
    """Write the ganaug snapshot of an official StyleGAN2-ADA pickle (read safely by :mod:`ganaug.nvlabs`)
    into folder ``out``; returns the snapshot file.

    ``out`` then works wherever a run folder does: ``generate``, ``train --transfer``, ``balance``.
    """
    state = nvlabs.snapshot_state(path, class_names)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return save_snapshot(out, state, state.pop("cur_nimg"))
