"""Starting a run: :func:`train` resolves the data, the config (preset, transfer source, time
budget), resume and the run folder, then hands over to the loop (:class:`~ganaug.training.loop.Trainer`).

Everything that can fail is checked before the run folder is made. The run's messages go to the
caller's ``log`` (print by default) and, once the folder exists, to its ``log.txt`` (the standard
``logging`` module, one logger per run).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganaug import checkpoint as ckpt
from ganaug.config import NetworkConfig, TrainConfig, make_config
from ganaug.data.imageset import ImageSet
from ganaug.data.prepared import is_prepared, load_prepared
from ganaug.data.preprocess import padded_size
from ganaug.diagnostics import ClassDiagnostics
from ganaug.distributed import broadcast_object, destroy, init_from_env, rank_and_world_size
from ganaug.errors import CheckpointError, DataError, UserError
from ganaug.locking import run_lock
from ganaug.models import build_discriminator, build_generator, count_parameters
from ganaug.training.budget import BudgetPlan, candidate_resolutions, fit_to_budget
from ganaug.training.loop import Trainer
from ganaug.training.result import TickCallback, TrainResult
from ganaug.training.transfer import transfer_config
from ganaug.utils import atomic_open, atomic_write_json, next_run_dir, read_json, read_jsonl, resolve_device

logger = logging.getLogger(__name__)


def train(
    data: Any,
    config: TrainConfig | None = None,
    *,
    out: str | Path = "runs",
    arch: str | None = None,
    preset: str = "cpu",
    resume: str | Path | None = None,
    transfer: str | Path | None = None,
    classes: Sequence[str] | None = None,
    conditional: bool | None = None,
    callbacks: Sequence[TickCallback] = (),
    progress: bool = True,
    max_ticks: int | None = None,
    run_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    budget: str | float | None = None,
    diagnostics: bool = True,
    **overrides: Any,
) -> TrainResult:
    """Train a GAN on the training split of ``data``.

    ``data``: a prepared folder (``ganaug prepare``; only its train split is used) or an ImageSet.
    ``config``: a full TrainConfig; otherwise one is made from ``arch``, ``preset``, the data's
    shape and ``overrides`` (any TrainConfig/NetworkConfig field, e.g. ``kimg=10``, ``resolution=32``).
    ``resume``: a run folder, snapshot file or ``"latest"`` (newest run under ``out``): the run
    continues in its own folder, with the same options (``kimg`` may be raised).
    ``arch``: default dcgan, or the transfer source's.
    ``transfer``: start from another run's weights, or an official StyleGAN2-ADA ``.pkl`` (read
    safely, see ganaug.nvlabs): the networks' architecture comes from the source, the data must
    be at its resolution (``resolution=`` resizes it), 1-channel data trains as RGB from an RGB
    source (generated images are converted back); ADA speed at most 100 kimg and no EMA ramp-up
    unless given (as official ``--resume`` does).
    ``classes``: train on these classes only (one unconditional model per class: pass one name
    and ``conditional=False``).
    ``max_ticks``: stop after this many ticks in this call (the run can be resumed).
    ``budget``: a time budget ('15m', '90s', '1h'; 'off': none; None: the preset's default, see
    ``ganaug.training.budget``): a few steps are timed first, the run trains at the largest resolution that
    fits (unless ``resolution`` is given) and says so. With a full ``config`` only an explicit
    budget is checked.
    ``diagnostics``: per-class recall/coverage of G_ema at every tick (``class_stats.jsonl``,
    ``ganaug.diagnostics``).
    """
    created_group = init_from_env(overrides.get("device") or (config.device if config else "auto"))
    rank = rank_and_world_size()[0]
    try:
        # The run folder's lock and log.txt are taken inside once the folder is known; released on return.
        with contextlib.ExitStack() as held:
            say = held.enter_context(_run_logger(log or (print if rank == 0 else _quiet))).info
            resume_state = None
            if resume is not None:
                resume_state, config, run_dir = _load_resume(resume, out, overrides, say)
                transfer = None  # the run's own weights replace any transfer source
            train_set = _training_set(data, classes, resume_state)
            started_from = None
            if transfer is not None:
                named = transfer
                transfer = transfer if isinstance(transfer, dict) else ckpt.load_snapshot(transfer)
                started_from = _transfer_record(named, transfer)
            config, budget_plan = _plan_config(
                train_set,
                config,
                arch=arch,
                preset=preset,
                conditional=conditional,
                transfer=transfer,
                overrides=overrides,
                budget=budget,
                resumed=resume_state is not None,
                log=say,
            )
            run_dir = _open_run_dir(run_dir, out, data, config, held)
            if rank == 0:
                config = _start_run_folder(
                    run_dir, config, data, train_set, resume_state, budget_plan, started_from, say
                )
                if diagnostics:
                    callbacks = [
                        *callbacks,
                        ClassDiagnostics(
                            train_set,
                            run_dir,
                            log=say,
                            seed=config.seed,
                            start_nimg=resume_state["cur_nimg"] if resume_state else 0,
                        ),
                    ]
            else:
                config = _fit_data_to_gan(config, train_set, resume_state, _quiet)
            trainer = Trainer(
                train_set,
                config,
                run_dir,
                resume_state=resume_state,
                transfer=transfer,
                callbacks=callbacks,
                progress=progress,
                log=say,
            )
            return trainer.run(max_ticks=max_ticks)
    finally:
        if created_group:
            destroy()


def _quiet(msg: str) -> None:
    """The console of ranks other than 0 (unless a log is given): rank 0 speaks for the run."""


class _Echo(logging.Handler):
    """Hands every message to the caller's callback (print, a notebook, a test's list)."""

    def __init__(self, echo: Callable[[str], None]):
        super().__init__()
        self.echo = echo

    def emit(self, record: logging.LogRecord) -> None:
        self.echo(record.getMessage())


@contextlib.contextmanager
def _run_logger(echo: Callable[[str], None]) -> Iterator[logging.Logger]:
    """This module's logger for one run: every message to ``echo``; ``log.txt`` is added once the
    run folder exists. The handlers of an outer run (a train() inside a tick callback) are put back after."""
    saved = logger.handlers[:], logger.level, logger.propagate, logger.disabled
    logger.handlers = [_Echo(echo)]
    logger.setLevel(logging.INFO)
    logger.propagate = False  # echo shows every message already; not a second time through the root logger
    # logging.config.dictConfig (a notebook's or a tool's) disables loggers that exist by default:
    # the run's progress and log.txt must not go silent because of it.
    logger.disabled = False
    try:
        yield logger
    finally:
        for handler in logger.handlers:
            handler.close()
        logger.handlers, logger.level, logger.propagate, logger.disabled = saved


def _log_file(path: Path) -> logging.Handler:
    """Appends each message to the run's log.txt with a time stamp (flushed per message: a killed run keeps it)."""
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)  # made on the first message, as before
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S"))
    return handler


def _load_resume(
    resume: str | Path, out: str | Path, overrides: dict[str, Any], log: Callable[[str], None]
) -> tuple[dict[str, Any], TrainConfig, Path]:
    """The snapshot to resume from, the run's own config (``kimg`` and ``device`` may change) and its folder."""
    target = ckpt.find_latest_run(out) if str(resume) == "latest" else Path(resume)
    state = ckpt.load_snapshot(target)
    if "opt_G" not in state:
        raise CheckpointError(
            f"{state['path']} holds networks but no training state (an imported "
            "snapshot): start from it with --transfer instead of --resume"
        )
    config = TrainConfig.from_dict(state["config"])
    if overrides.get("kimg"):
        if config.time_limit_s is not None:  # a length given now replaces the one its time budget set
            log(
                f"note: kimg {overrides['kimg']:g} given: the run's time limit ({config.time_limit_s:.0f} s "
                "of training, from its time budget) no longer applies"
            )
            config = config.replace(time_limit_s=None, kimg_max=None)
        config = config.replace(kimg=overrides["kimg"])
    if overrides.get("device"):
        config = config.replace(device=overrides["device"])
    ignored = sorted(k for k, v in overrides.items() if v is not None and k not in ("kimg", "device"))
    if ignored:
        log(f"note: resuming keeps the run's own options; ignored: {', '.join(ignored)}")
    run_dir = Path(state["path"]).parent
    log(f"resuming {run_dir} from {Path(state['path']).name} at {state['cur_nimg'] / 1000:.2f} kimg")
    return state, config, run_dir


def _training_set(data: Any, classes: Sequence[str] | None, resume_state: dict | None) -> ImageSet:
    """The images to train on; a resumed run needs the classes it was trained on."""
    train_set = resolve_training_data(data, classes)
    if resume_state is None:
        return train_set
    saved = list(resume_state.get("class_names", []))
    lacking = [c for c in saved if c not in train_set.class_names]
    if lacking:
        raise UserError(
            f"cannot resume {Path(resume_state['path']).parent} on this data: the run was trained on "
            f"classes {saved}, the data has {train_set.class_names} (no {lacking}). Resume "
            "with the data it was trained on, or start a new run"
        )
    if saved and saved != train_set.class_names:  # the run was trained on a subset of classes
        train_set = resolve_training_data(data, saved)
    return train_set


def planned_config(
    data: Any,
    *,
    arch: str | None = None,
    preset: str = "cpu",
    transfer: str | Path | dict | None = None,
    classes: Sequence[str] | None = None,
    conditional: bool | None = None,
    budget: str | float | None = None,
    resumed: bool = False,
    log: Callable[[str], None] = print,
    **overrides: Any,
) -> TrainConfig:
    """The config :func:`train` would start a run with (``--dry-run``): the preset for this data, the
    transfer source's networks, fitted to the time budget (not for a resumed run). Nothing is written."""
    train_set = resolve_training_data(data, classes)
    if transfer is not None and not isinstance(transfer, dict):
        transfer = ckpt.load_snapshot(transfer)
    config, _ = _plan_config(
        train_set,
        None,
        arch=arch,
        preset=preset,
        conditional=conditional,
        transfer=transfer,
        overrides=overrides,
        budget=budget,
        resumed=resumed,
        log=log,
    )
    return config


def _plan_config(
    train_set: ImageSet,
    config: TrainConfig | None,
    *,
    arch: str | None,
    preset: str,
    conditional: bool | None,
    transfer: dict | None,
    overrides: dict[str, Any],
    budget: str | float | None,
    resumed: bool,
    log: Callable[[str], None],
) -> tuple[TrainConfig, BudgetPlan | None]:
    """The run's config (given, or made from the preset and the data; the transfer source's networks;
    fitted to the time budget) and the budget's plan. Fails before anything is written."""
    config_given = config is not None
    src_net = None
    if transfer is not None:
        src_net = NetworkConfig.from_dict(transfer["config"]["network"])
        if arch is not None and arch != src_net.arch:
            raise CheckpointError(
                f"cannot transfer: the source is a {src_net.arch} snapshot but --arch {arch} "
                "was asked; leave --arch out (it follows the source)"
            )
        arch = arch or src_net.arch
    if config is None:
        config = config_for(train_set, arch or "dcgan", preset, conditional=conditional, **overrides)
        if src_net is not None:
            config = transfer_config(config, src_net, overrides)
    else:
        if not resumed and overrides:
            config = config.replace(**{k: v for k, v in overrides.items() if v is not None})  # e.g. kimg=...
        if src_net is not None:
            config = transfer_config(config, src_net, None)
    if config.network.conditional and config.network.num_classes != train_set.num_classes:
        raise UserError(
            f"the config is for {config.network.num_classes} classes but the data has {train_set.num_classes}"
        )
    resolve_device(config.device)
    plan = None
    if not resumed and rank_and_world_size()[1] == 1 and (budget is not None or not config_given):
        config, plan = fit_to_budget(
            train_set,
            config,
            budget,
            log=log,
            resolution_fixed=config_given or bool(overrides.get("resolution")) or transfer is not None,
            kimg_fixed=config_given or bool(overrides.get("kimg")),
        )
    empty = [k for k, v in train_set.counts().items() if v == 0]
    if empty and config.network.conditional:
        log(
            f"warning: class(es) {', '.join(empty)} have no training images: the conditional model cannot "
            "learn them, and images generated for them are meaningless"
        )
    return config, plan


def _open_run_dir(
    run_dir: str | Path | None, out: str | Path, data: Any, config: TrainConfig, held: contextlib.ExitStack
) -> Path:
    """The run folder (a new numbered one under ``out`` unless given), made and locked by rank 0."""
    rank = rank_and_world_size()[0]
    if run_dir is None:
        desc = f"{_data_desc(data)}-{config.network.arch}"
        run_dir = broadcast_object(str(next_run_dir(out, desc)) if rank == 0 else "")
    run_dir = Path(run_dir)
    if rank == 0:  # one process per run folder ("in use by PID ..."); released when train() returns
        held.enter_context(run_lock(run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _start_run_folder(
    run_dir: Path,
    config: TrainConfig,
    data: Any,
    train_set: ImageSet,
    resume_state: dict | None,
    budget_plan: BudgetPlan | None,
    started_from: dict[str, Any] | None,
    log: Callable[[str], None],
) -> TrainConfig:
    """Rank 0: log.txt, the data's fit to the GAN, stats.jsonl trimmed to the snapshot on resume,
    training_options.json (a resumed run keeps the transfer source it started from). Returns the
    config with its ``crop_to``."""
    logger.addHandler(_log_file(run_dir / "log.txt"))
    config = _fit_data_to_gan(config, train_set, resume_state, log)
    if resume_state is not None:
        # Drop stats lines from ticks after the snapshot (a killed run redoes them).
        _truncate_stats(run_dir / "stats.jsonl", resume_state["cur_nimg"])
        try:
            started_from = read_json(run_dir / "training_options.json").get("transfer")
        except (OSError, ValueError):
            started_from = None
    atomic_write_json(
        run_dir / "training_options.json",
        {
            **config.to_dict(),
            "data": {
                "source": str(data) if not isinstance(data, ImageSet) else "<ImageSet>",
                "images": len(train_set),
                "classes": train_set.class_names,
                "counts": train_set.counts(),
            },
            "world_size": rank_and_world_size()[1],
            **({"budget": budget_plan.to_dict()} if budget_plan is not None else {}),
            **({"transfer": started_from} if started_from else {}),
        },
    )
    return config


def _transfer_record(named: Any, state: dict[str, Any]) -> dict[str, Any]:
    """What training_options.json says of a transfer source: as given, its file, length and classes."""
    return {
        "source": state.get("path") if isinstance(named, dict) else str(named),
        "file": Path(str(state.get("path", ""))).name,
        "kimg": round(int(state.get("cur_nimg", 0)) / 1000, 3),
        "classes": list(state.get("class_names", [])),
    }


def _fit_data_to_gan(
    config: TrainConfig, train_set: ImageSet, resume_state: dict | None, log: Callable[[str], None]
) -> TrainConfig:
    """``crop_to``: data a little smaller than the GAN is padded to it and generated images are cropped
    back (``config.fit``). A resumed run keeps the fit it started with (its snapshot's crop_to)."""
    if resume_state is None:
        crop = padded_size(train_set.resolution, config.network.resolution, config.fit)
        config = dataclasses.replace(config, crop_to=list(crop) if crop else None)
    crop = config.crop_to
    if crop:
        log(
            f"data: {crop[0]}x{crop[1]} px padded to the GAN's {config.network.resolution} px (reflection); "
            f"generated images are cropped back to {crop[0]}x{crop[1]} (--fit resize to resize instead)"
        )
    return config


def _truncate_stats(path: Path, cur_nimg: int) -> None:
    rows = [r for r in read_jsonl(path) if r.get("kimg", 0) * 1000 <= cur_nimg + 1e-6]
    with atomic_open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def _data_desc(data: Any) -> str:
    if isinstance(data, ImageSet):
        return "data"
    name = Path(str(data)).name or "data"
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:40]


# ----------------------------------------------------------------------------
# Also used by the CLI (`ganaug train --dry-run`) and the benchmarks.


def resolve_training_data(data: Any, classes: Sequence[str] | None = None) -> ImageSet:
    """An ImageSet, or a prepared folder (its train split only: the GAN never sees val/test)."""
    if isinstance(data, ImageSet):
        train = data
    else:
        path = Path(data)
        if not str(data).startswith("builtin:") and not path.exists():
            raise UserError(f"{data} does not exist")
        if not is_prepared(data):
            raise UserError(
                f"{data} is not a prepared dataset folder. Run `ganaug prepare {data} --out DIR` first "
                "(it fixes the held-out test split), then `ganaug train DIR`."
            )
        train = load_prepared(path).train
    if classes:
        idx = [train.class_index(c) for c in classes]
        keep = np.isin(train.labels, idx)
        sub = train.subset(np.flatnonzero(keep))
        # Re-index labels to the chosen classes so the model has exactly those.
        remap = {old: new for new, old in enumerate(idx)}
        train = ImageSet(
            sub.images, np.array([remap[int(v)] for v in sub.labels]), list(classes), sub.paths, sub.hashes
        )
    if len(train) == 0:
        raise DataError("no training images to train on")
    return train


def config_for(
    train: ImageSet,
    arch: str = "dcgan",
    preset: str = "cpu",
    *,
    conditional: bool | None = None,
    **overrides: Any,
) -> TrainConfig:
    """The TrainConfig for this data: its shape (resolution rounded up to a power of two, channels),
    conditional on its classes when it has several (unless ``conditional=False``), preset + overrides."""
    res = overrides.pop("resolution", None) or _default_resolution(train)
    channels = overrides.pop("channels", None) or train.channels
    if conditional is None:
        conditional = train.num_classes > 1
    return make_config(
        arch,
        preset,
        resolution=res,
        channels=channels,
        num_classes=train.num_classes if conditional else 0,
        **overrides,
    )


def _default_resolution(train: ImageSet) -> int:
    """Smallest power of two >= the data's larger side, within 32..256."""
    return candidate_resolutions(max(train.resolution))[-1]


def describe(config: TrainConfig) -> str:
    """The resolved configuration and each network's parameter count (``--dry-run``)."""
    G = build_generator(config.network)
    D = build_discriminator(config.network)
    lines = [
        json.dumps(config.to_dict(), indent=2),
        f"G: {count_parameters(G):,} parameters",
        f"D: {count_parameters(D):,} parameters",
        f"R1 gamma: {config.resolved_r1_gamma:g}   EMA half-life: {config.resolved_ema_kimg:g} kimg"
        + (f"   PL weight: {config.resolved_pl_weight:g}" if config.network.arch == "stylegan2" else ""),
    ]
    return "\n".join(lines)
