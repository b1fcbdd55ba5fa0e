"""`ganaug run`: inspect -> split -> train -> generate -> evaluate -> benchmark -> report.

All stages write into one run folder. A stage is skipped when its outputs exist and were made
from the same configuration (a fingerprint of its options and of everything upstream is kept
in ``pipeline.json``), so running the same command again resumes where it stopped; GAN
training itself resumes from its last snapshot. The configuration is a
:class:`~ganaug.config.PipelineConfig`.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ganaug import __version__
from ganaug.benchmarking import benchmark
from ganaug.checkpoint import load_snapshot
from ganaug.config import PipelineConfig
from ganaug.constants import RUN_DIR, STAGES
from ganaug.data.imageset import ImageSet
from ganaug.data.prepared import load_prepared, prepare
from ganaug.data.preprocess import resize_imageset
from ganaug.data.sources import inspect
from ganaug.errors import UserError
from ganaug.generation import export, generate
from ganaug.locking import run_lock
from ganaug.metrics.evaluation import evaluate
from ganaug.reporting import build_report
from ganaug.training import train
from ganaug.utils import atomic_write_json, read_json

# What each stage reads: those stages must have run (now or before) in this run folder.
REQUIRES = {
    "train": ("split",),
    "generate": ("train",),
    "evaluate": ("split", "generate"),
    "benchmark": ("split", "generate"),
}


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class PipelineResult:
    """What ``ganaug.run`` returns: each stage's record, the report and the benchmark's one-line verdict."""

    run_dir: Path
    stages: dict[str, dict[str, Any]]
    report: Path | None = None
    verdict: str | None = None

    def __repr__(self) -> str:
        done = ", ".join(f"{k}:{v.get('status')}" for k, v in self.stages.items())
        return f"PipelineResult(run_dir={str(self.run_dir)!r}, stages=[{done}], report={str(self.report)!r})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{k}</td><td>{v.get('status')}</td><td>{v.get('seconds', 0):.1f} s</td></tr>"
            for k, v in self.stages.items()
        )
        return (
            f"<p><b>{self.verdict or ''}</b></p><table><tr><th>stage</th><th>status</th><th>time</th></tr>"
            f"{rows}</table><p>report: {self.report}</p>"
        )


class Pipeline:
    """The stages of one run folder, run in order and recorded in its ``pipeline.json``."""

    def __init__(
        self, cfg: PipelineConfig, run_dir: Path, log: Callable[[str], None] = print, progress: bool = True
    ):
        self.cfg = cfg
        self.run_dir = run_dir
        self.log = log
        self.progress = progress
        self.state_path = run_dir / "pipeline.json"
        state = read_json(self.state_path) if self.state_path.exists() else {}
        self.stages: dict[str, dict[str, Any]] = state.get("stages", {})
        # as the folder was before this call: the train stage resumes a GAN only if it was trained so
        self._before = {"stages": json.loads(json.dumps(self.stages)), "config": state.get("config") or {}}
        self.keys: dict[str, str] = {}
        self._prepared = None

    # -- bookkeeping ---------------------------------------------------------------
    def save_state(self) -> None:
        atomic_write_json(
            self.state_path, {"version": __version__, "config": self.cfg.to_dict(), "stages": self.stages}
        )

    def _key(self, stage: str) -> str:
        c = self.cfg.to_dict()  # plain values: the fingerprints of earlier versions stay valid
        parts = {
            "inspect": (c["data"]["source"], c["data"]["csv"]),
            "split": (c["data"],),
            "train": (c["gan"],),
            "generate": (c["generate"], c["benchmark"]["fractions"]),
            "evaluate": (c["evaluate"],),
            "benchmark": (c["benchmark"],),
            "report": (),
        }[stage]
        upstream = STAGES[: STAGES.index(stage)]
        key = _fingerprint(
            stage, parts, [self.keys.get(u) for u in upstream if u not in ("inspect", "report")]
        )
        self.keys[stage] = key
        return key

    def _done(self, stage: str, outputs: Sequence[Path]) -> bool:
        rec = self.stages.get(stage, {})
        return (
            rec.get("status") == "done"
            and rec.get("key") == self.keys[stage]
            and all(p.exists() for p in outputs)
        )

    # -- stages -----------------------------------------------------------------
    def prepared(self):
        if self._prepared is None:
            self._prepared = load_prepared(self.run_dir / "prepared")
        return self._prepared

    def stage_inspect(self) -> dict[str, Any]:
        d = self.cfg.data
        report = inspect(d.source, csv=d.csv) if d.csv else inspect(d.source)
        atomic_write_json(self.run_dir / "inspect.json", report.to_dict())
        self.log(str(report))
        return {"outputs": ["inspect.json"]}

    def stage_split(self) -> dict[str, Any]:
        d = asdict(self.cfg.data)
        source = d.pop("source")
        kwargs = {k: v for k, v in d.items() if v is not None}
        prepare(source, self.run_dir / "prepared", overwrite=True, **kwargs)
        self._prepared = None
        p = self.prepared()
        self.log(
            f"split: train {len(p.train)}, val {len(p.val)}, test {len(p.test)} "
            f"(train per class: {p.train.counts()})"
        )
        return {"outputs": ["prepared/split.json", "prepared/images.npz"]}

    def stage_train(self) -> dict[str, Any]:
        arch, preset = self.cfg.gan.arch, self.cfg.gan.preset
        gan_dir = self.run_dir / "gan"
        resume = None
        if gan_dir.exists() and any(gan_dir.glob("snapshot-*.pt")):
            saved = load_snapshot(gan_dir)
            same = saved["config"]["network"]["arch"] == arch and saved["config"]["preset"] == preset
            changed = self._gan_changes()
            if same and changed:
                old = _free_name(gan_dir.with_name("gan.replaced"))
                gan_dir.rename(old)
                self.log(
                    f"the GAN options or the data changed since {gan_dir} was trained ({', '.join(changed)}): "
                    f"training a new GAN; the old run is kept in {old}"
                )
            elif same:
                resume = gan_dir
            else:
                raise UserError(
                    f"{gan_dir} holds a {saved['config']['network']['arch']} run; delete it or use "
                    "another run folder to train a different GAN"
                )
        if (
            resume is None
            and self.cfg.data.source == "builtin:fashion-demo"
            and "transfer" not in self.cfg.gan.options
        ):
            self.log(
                "tip: --transfer builtin:fashion-garments starts the GAN from the embedded garments model "
                "(other Fashion-MNIST classes) instead of from scratch, as `make demo` does"
            )
        if resume is None and gan_dir.exists():
            # A run killed before its first snapshot: start it again from scratch.
            for f in gan_dir.iterdir():
                if f.is_file():
                    f.unlink()
        result = train(
            self.run_dir / "prepared",
            arch=arch,
            preset=preset,
            run_dir=gan_dir,
            resume=resume,
            progress=self.progress,
            log=self.log,
            device=self.cfg.device,
            **self.cfg.gan.train_kwargs(),
        )
        return {
            "outputs": ["gan/snapshot-latest.json"],
            "kimg": result.kimg,
            "snapshot": result.snapshot.name if result.snapshot else None,
        }

    def _gan_changes(self) -> list[str]:
        """What differs between this run's GAN options and data split and those the existing GAN was
        trained with (an interrupted or forced run with the same ones resumes; kimg and budget may be
        raised: the run continues)."""
        before = self._before
        if before["stages"].get("train", {}).get("key") == self.keys["train"]:
            return []
        changed = []
        if before["stages"].get("split", {}).get("key") != self.keys.get("split"):
            changed.append("the data split")
        old = dict(before["config"].get("gan") or {})
        new = self.cfg.gan.to_dict()
        for k in sorted(set(old) | set(new)):
            if k not in ("kimg", "budget") and old.get(k) != new.get(k):
                changed.append(f"gan.{k}: {old.get(k)!r} -> {new.get(k)!r}")
        return changed

    def _pool_per_class(self) -> int:
        per_class = self.cfg.generate.per_class
        if per_class:
            return int(per_class)
        n_train = len(self.prepared().train)
        max_frac = max(self.cfg.benchmark.fractions or [1.0])
        # "fix" may give the whole budget to one class; keep a margin for that.
        return max(int(math.ceil(max(max_frac, 0.25) * n_train)), 64)

    def stage_generate(self) -> dict[str, Any]:
        n = self._pool_per_class()
        res = generate(
            self.run_dir / "gan",
            n=n,
            classes="all",
            truncation=self.cfg.generate.truncation,
            device=self.cfg.device,
            progress=self.progress,
        )
        # The GAN may train at another resolution than the data's (a time budget): the pool is at the data's.
        real = self.prepared().train
        res.images = resize_imageset(res.images, real.resolution, real.channels)
        export(res, self.run_dir / "synthetic", formats=("npz",), overwrite=True)
        self.log(
            f"generated {len(res.images)} synthetic images ({n} per class) from {Path(res.snapshot).name}"
        )
        return {"outputs": ["synthetic/images.npz", "synthetic/manifest.csv"], "images": len(res.images)}

    def _synthetic(self) -> ImageSet:
        return ImageSet.load_npz(self.run_dir / "synthetic" / "images.npz")

    def stage_evaluate(self) -> dict[str, Any]:
        p = self.prepared()
        e = self.cfg.evaluate
        kwargs = {"inception": e.inception} if e.inception else {}
        res = evaluate(
            self._synthetic(),
            p.train,
            p.test,
            val=p.val,
            features=e.features,
            out=self.run_dir / "evaluate",
            device=self.cfg.device,
            **kwargs,
        )
        self.log(res.table())
        return {"outputs": ["evaluate/metrics.json"]}

    def stage_benchmark(self) -> dict[str, Any]:
        p = self.prepared()
        opts = self.cfg.benchmark_options()
        res = benchmark(
            p.train,
            p.val,
            p.test,
            self._synthetic(),
            opts,
            out=self.run_dir,
            progress=self.progress,
            log=self.log,
        )
        res.plot(self.run_dir / "benchmark" / "benchmark.png")
        res.plot_per_class(self.run_dir / "benchmark" / "per_class_recall.png")
        self.log(res.table())
        self.log(res.verdict())
        return {
            "outputs": ["benchmark/results.json"],
            "verdict": res.headline(),
            "verdict_full": res.verdict(),
        }

    def stage_report(self) -> dict[str, Any]:
        path = build_report(self.run_dir)
        return {"outputs": [str(Path(path).relative_to(self.run_dir))]}

    # -- driver ------------------------------------------------------------------
    def run(self, stages: Sequence[str] = STAGES, force: Sequence[str] = ()) -> PipelineResult:
        for stage in STAGES:
            self._key(stage)
        for stage in STAGES:
            if stage not in stages:
                continue
            rec = self.stages.get(stage, {})
            outputs = [self.run_dir / o for o in rec.get("outputs", [])]
            if stage != "report" and stage not in force and rec.get("outputs") and self._done(stage, outputs):
                self.log(f"[{stage}] up to date, skipped")
                continue
            missing = [r for r in REQUIRES.get(stage, ()) if self.stages.get(r, {}).get("status") != "done"]
            if missing:
                need = ",".join([*missing, stage])
                raise UserError(
                    f"stage {stage} needs {', '.join(missing)} first: run with --stages {need} "
                    f"(or without --stages) in {self.run_dir}"
                )
            self.log(f"[{stage}] running")
            t0 = time.time()
            self.stages[stage] = {"status": "running", "key": self.keys[stage]}
            self.save_state()
            info = getattr(self, f"stage_{stage}")()
            self.stages[stage] = {
                "status": "done",
                "key": self.keys[stage],
                "seconds": round(time.time() - t0, 2),
                **info,
            }
            self.save_state()
            self.log(f"[{stage}] done in {time.time() - t0:.1f} s")
        report = self.run_dir / "report.html"
        verdict = self.stages.get("benchmark", {}).get("verdict")
        return PipelineResult(self.run_dir, self.stages, report if report.exists() else None, verdict)


def run(
    data: str | Path | None = None,
    *,
    out: str | Path = RUN_DIR,
    config: str | Path | PipelineConfig | None = None,
    stages: Sequence[str] | None = None,
    force: Sequence[str] = (),
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> PipelineResult:
    """Run the whole pipeline (or ``stages``) on ``data`` into the run folder ``out``.

    ``config``: a :class:`~ganaug.config.PipelineConfig`, or a TOML/YAML/JSON file with its sections
    data, gan, generate, evaluate, benchmark (None: its defaults); ``overrides`` like
    {"gan.kimg": 20, "benchmark.seeds": 3} win over it.
    """
    overrides = dict(overrides or {})
    if data is not None:
        overrides["data.source"] = str(data)
    cfg = PipelineConfig.load(config, overrides)
    if not cfg.data.source:
        raise UserError("no data: give a folder/file, or --builtin fashion-demo")
    stages = list(stages or STAGES)
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise UserError(f"unknown stage(s) {', '.join(bad)}; stages are: {', '.join(STAGES)}")
    run_dir = Path(out)
    check_out_outside_data(cfg.data.source, run_dir)
    with run_lock(run_dir):  # creates run_dir; "in use by PID ..." when another process holds it
        pipe = Pipeline(cfg, run_dir, log=log, progress=progress)
        return pipe.run(stages, force=force)


def check_out_outside_data(source: Any, out: Path) -> None:
    """Refuse an output folder inside (or equal to) a data folder: nothing may be written into the data."""
    src = str(source)
    if src.startswith("builtin:") or not Path(src).is_dir():
        return
    data, target = Path(src).resolve(), out.resolve()
    if target == data or data in target.parents:
        raise UserError(
            f"--out {out} is inside the data folder {source}: the run would write into the data "
            "(and the next inspect would see its files as a class). Choose a folder outside it"
        )


def _free_name(path: Path) -> Path:
    """``path`` or, when it exists, ``path-2``, ``path-3``..."""
    n, out = 1, path
    while out.exists():
        n += 1
        out = path.with_name(f"{path.name}-{n}")
    return out
