"""`ganaug run`: inspect -> split -> train -> generate -> evaluate -> benchmark -> report.

All stages write into one run folder. A stage is skipped when its outputs exist and were made
from the same configuration (a fingerprint of its options and of everything upstream is kept
in ``pipeline.json``), so running the same command again resumes where it stopped; GAN
training itself resumes from its last snapshot.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganaug import __version__
from ganaug.benchmarking.options import pipeline_defaults
from ganaug.constants import FEATURE_KINDS, STAGES
from ganaug.errors import UserError
from ganaug.locking import run_lock
from ganaug.utils import atomic_write_json, read_json

# What each stage reads: those stages must have run (now or before) in this run folder.
REQUIRES = {"train": ("split",), "generate": ("train",), "evaluate": ("split", "generate"),
            "benchmark": ("split", "generate")}

DEFAULTS: dict[str, Any] = {
    "data": {
        "source": None,  # folder, CSV-labelled folder, zip, IDX, npz, or "builtin:fashion-demo"
        "csv": None,
        "seed": 0,
        "val": 0.15,
        "test": 0.2,
        "per_class_limit": None,
        "imbalance": None,
        "resolution": None,
        "channels": None,
    },
    # plus any `ganaug train` option, e.g. kimg, and budget ("15m"; default: the preset's, see ganaug.budget)
    "gan": {"arch": "stylegan2", "preset": "cpu", "seed": 0},  # bench/bench_quality.py's winner on CPU
    "generate": {"truncation": 1.0, "per_class": None},  # None: enough for the largest benchmark fraction
    "evaluate": {"features": "trained", "inception": None},
    "benchmark": pipeline_defaults(),  # every BenchmarkOptions field but device (the top-level one)
    "device": "auto",
}


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then a TOML/YAML/JSON file, then ``overrides`` ({"gan.kimg": 10} or nested dicts)."""
    cfg = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise UserError(f"config file {path} not found")
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix in (".toml",):
                try:
                    import tomllib
                except ModuleNotFoundError:  # Python 3.10
                    import tomli as tomllib
                loaded = tomllib.loads(text)
            elif path.suffix in (".yaml", ".yml"):
                import yaml

                loaded = yaml.safe_load(text) or {}
            elif path.suffix == ".json":
                loaded = json.loads(text)
            else:
                raise UserError(f"config file {path}: use .toml, .yaml or .json")
        except UserError:
            raise
        except Exception as e:
            raise UserError(f"cannot read config file {path}: {e}") from None
        _merge(cfg, loaded, str(path))
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        nested: Any = value
        for part in reversed(key.split(".")):
            nested = {part: nested}
        _merge(cfg, nested, f"setting {key}")  # same key checks as a config file
    validate_config(cfg)
    return cfg


def _merge(dst: dict, src: dict, where: str, open_keys: bool = False) -> None:
    """Merge ``src`` into ``dst``; unknown keys are errors except in open sections ([gan])."""
    if not isinstance(src, dict):
        raise UserError(f"{where}: expected a table of settings, got {type(src).__name__} {src!r}")
    for k, v in src.items():
        if k not in dst and not open_keys:
            raise UserError(f"{where}: unknown key {k!r} (known: {', '.join(dst)})")
        if isinstance(dst.get(k), dict) and not isinstance(v, dict):
            raise UserError(f"{where}: [{k}] must be one table of settings ({k}.KEY = VALUE), got "
                            f"{type(v).__name__} {v!r}")
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v, f"{where} [{k}]", open_keys=(k == "gan"))
        else:
            dst[k] = v


# ----------------------------------------------------------------------------
# Validation of the whole config, before any stage runs (a bad benchmark value must not surface
# after hours of training). One validator per section; each raises UserError naming the key.


def _number(section: str, key: str, value: Any, *, integer: bool = False, minimum: float | None = None,
            above: float | None = None, maximum: float | None = None, optional: bool = False) -> None:
    where = f"{section}.{key}"
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise UserError(f"{where} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        raise UserError(f"{where} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise UserError(f"{where} must be >= {minimum:g}, got {value!r}")
    if above is not None and value <= above:
        raise UserError(f"{where} must be > {above:g}, got {value!r}")
    if maximum is not None and value > maximum:
        raise UserError(f"{where} must be <= {maximum:g}, got {value!r}")


def _string(section: str, key: str, value: Any, *, choices: Sequence[str] | None = None,
            optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise UserError(f"{section}.{key} must be a string, got {value!r}")
    if choices is not None and value not in choices:
        raise UserError(f"{section}.{key}: unknown value {value!r}; choose from {', '.join(choices)}")


def validate_data(d: dict[str, Any]) -> None:
    _string("data", "source", d["source"], optional=True)
    _string("data", "csv", d["csv"], optional=True)
    _number("data", "seed", d["seed"], integer=True, minimum=0)
    _number("data", "val", d["val"], minimum=0, maximum=0.9)
    _number("data", "test", d["test"], minimum=0, maximum=0.9)
    _number("data", "per_class_limit", d["per_class_limit"], integer=True, minimum=1, optional=True)
    if d["imbalance"] is not None and not isinstance(d["imbalance"], (str, dict)):
        raise UserError(f"data.imbalance must be like \"shirt=20,coat=50\", got {d['imbalance']!r}")
    _number("data", "resolution", d["resolution"], integer=True, minimum=1, optional=True)
    if d["channels"] not in (None, 1, 3):
        raise UserError(f"data.channels must be 1 or 3, got {d['channels']!r}")


# [gan] keys that are train() arguments, not config fields
_TRAIN_ARGS = ("transfer", "classes", "conditional", "budget", "diagnostics")


def validate_gan(g: dict[str, Any]) -> None:
    """Builds the TrainConfig the train stage would (with a stand-in data shape), so unknown keys,
    wrong types, NaN/Inf and out-of-range values fail now, naming the key."""
    from ganaug.config import make_config

    if g.get("budget") is not None:
        from ganaug.budget import parse_budget

        try:
            parse_budget(g["budget"])
        except UserError as e:
            raise UserError(f"[gan] budget: {e}") from None
    g = {k: v for k, v in g.items() if k not in _TRAIN_ARGS}
    arch, preset = g.pop("arch", DEFAULTS["gan"]["arch"]), g.pop("preset", "cpu")
    _string("gan", "arch", arch)
    _string("gan", "preset", preset)
    res, ch = g.pop("resolution", None), g.pop("channels", None)
    _number("gan", "resolution", res, integer=True, minimum=16, optional=True)
    if ch not in (None, 1, 3):
        raise UserError(f"gan.channels must be 1 or 3, got {ch!r}")
    try:
        make_config(arch, preset, resolution=res or 32, channels=ch or 3, num_classes=2, **g)
    except TypeError as e:  # a value of the wrong kind reaching a dataclass
        raise UserError(f"[gan]: {e}") from None
    except UserError as e:
        raise UserError(f"[gan] {e}") from None


def validate_generate(g: dict[str, Any]) -> None:
    _number("generate", "truncation", g["truncation"], minimum=0, maximum=2)
    _number("generate", "per_class", g["per_class"], integer=True, minimum=1, optional=True)


def validate_evaluate(e: dict[str, Any]) -> None:
    _string("evaluate", "features", e["features"], choices=FEATURE_KINDS)
    _string("evaluate", "inception", e["inception"], optional=True)


def validate_benchmark(b: dict[str, Any]) -> None:
    """The [benchmark] section (fractions of the real training set, not percent): the checks of
    BenchmarkOptions, the options the benchmark stage is run with."""
    from ganaug.benchmarking.options import BenchmarkOptions

    try:
        BenchmarkOptions.from_mapping(b)
    except UserError as e:
        raise UserError(f"[benchmark] {e}") from None


SECTION_VALIDATORS: dict[str, Callable[[dict[str, Any]], None]] = {
    "data": validate_data, "gan": validate_gan, "generate": validate_generate, "evaluate": validate_evaluate,
    "benchmark": validate_benchmark,
}


def validate_config(cfg: dict[str, Any]) -> None:
    """Every section of a merged config (defaults + file + overrides); raises UserError on the first problem."""
    for section, check in SECTION_VALIDATORS.items():
        check(cfg[section])
    _string("", "device", cfg["device"])


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class PipelineResult:
    run_dir: Path
    stages: dict[str, dict[str, Any]]
    report: Path | None = None
    verdict: str | None = None
    results: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        done = ", ".join(f"{k}:{v.get('status')}" for k, v in self.stages.items())
        return f"PipelineResult(run_dir={str(self.run_dir)!r}, stages=[{done}], report={str(self.report)!r})"

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{k}</td><td>{v.get('status')}</td><td>{v.get('seconds', 0):.1f} s</td></tr>"
                       for k, v in self.stages.items())
        return (f"<p><b>{self.verdict or ''}</b></p><table><tr><th>stage</th><th>status</th><th>time</th></tr>"
                f"{rows}</table><p>report: {self.report}</p>")


class Pipeline:
    def __init__(self, cfg: dict[str, Any], run_dir: Path, log: Callable[[str], None] = print,
                 progress: bool = True):
        self.cfg = cfg
        self.run_dir = run_dir
        self.log = log
        self.progress = progress
        self.state_path = run_dir / "pipeline.json"
        state = read_json(self.state_path) if self.state_path.exists() else {}
        self.stages: dict[str, dict[str, Any]] = state.get("stages", {})
        self.keys: dict[str, str] = {}
        self._prepared = None

    # -- bookkeeping ---------------------------------------------------------------
    def save_state(self) -> None:
        atomic_write_json(self.state_path, {"version": __version__, "config": self.cfg, "stages": self.stages})

    def _key(self, stage: str) -> str:
        c = self.cfg
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
        key = _fingerprint(stage, parts, [self.keys.get(u) for u in upstream if u not in ("inspect", "report")])
        self.keys[stage] = key
        return key

    def _done(self, stage: str, outputs: Sequence[Path]) -> bool:
        rec = self.stages.get(stage, {})
        return rec.get("status") == "done" and rec.get("key") == self.keys[stage] and all(p.exists() for p in outputs)

    # -- stages -----------------------------------------------------------------
    def prepared(self):
        from ganaug.data.split import load_prepared

        if self._prepared is None:
            self._prepared = load_prepared(self.run_dir / "prepared")
        return self._prepared

    def stage_inspect(self) -> dict[str, Any]:
        from ganaug.data.validate import inspect
        from ganaug.utils import atomic_write_json as write

        d = self.cfg["data"]
        report = inspect(d["source"], csv=d["csv"]) if d["csv"] else inspect(d["source"])
        write(self.run_dir / "inspect.json", report.to_dict())
        self.log(str(report))
        return {"outputs": ["inspect.json"]}

    def stage_split(self) -> dict[str, Any]:
        from ganaug.data.split import prepare

        d = dict(self.cfg["data"])
        source = d.pop("source")
        kwargs = {k: v for k, v in d.items() if v is not None}
        prepare(source, self.run_dir / "prepared", overwrite=True, **kwargs)
        self._prepared = None
        p = self.prepared()
        self.log(f"split: train {len(p.train)}, val {len(p.val)}, test {len(p.test)} "
                 f"(train per class: {p.train.counts()})")
        return {"outputs": ["prepared/split.json", "prepared/images.npz"]}

    def stage_train(self) -> dict[str, Any]:
        from ganaug import checkpoint as ckpt
        from ganaug.training import train

        g = dict(self.cfg["gan"])
        arch, preset = g.pop("arch"), g.pop("preset")
        gan_dir = self.run_dir / "gan"
        resume = None
        if gan_dir.exists() and any(gan_dir.glob("snapshot-*.pt")):
            saved = ckpt.load_snapshot(gan_dir)
            same = (saved["config"]["network"]["arch"] == arch and saved["config"]["preset"] == preset)
            if same:
                resume = gan_dir
            else:
                raise UserError(f"{gan_dir} holds a {saved['config']['network']['arch']} run; delete it or use "
                                "another run folder to train a different GAN")
        if resume is None and gan_dir.exists():
            # A run killed before its first snapshot: start it again from scratch.
            for f in gan_dir.iterdir():
                if f.is_file():
                    f.unlink()
        result = train(self.run_dir / "prepared", arch=arch, preset=preset, run_dir=gan_dir, resume=resume,
                       progress=self.progress, log=self.log, device=self.cfg["device"], **g)
        return {"outputs": ["gan/snapshot-latest.json"], "kimg": result.kimg,
                "snapshot": result.snapshot.name if result.snapshot else None}

    def _pool_per_class(self) -> int:
        per_class = self.cfg["generate"]["per_class"]
        if per_class:
            return int(per_class)
        n_train = len(self.prepared().train)
        max_frac = max(self.cfg["benchmark"]["fractions"] or [1.0])
        # "fix" may give the whole budget to one class; keep a margin for that.
        return max(int(math.ceil(max(max_frac, 0.25) * n_train)), 64)

    def stage_generate(self) -> dict[str, Any]:
        from ganaug.generation import export, generate

        n = self._pool_per_class()
        res = generate(self.run_dir / "gan", n=n, classes="all", truncation=self.cfg["generate"]["truncation"],
                       device=self.cfg["device"], progress=self.progress)
        # The GAN may train at another resolution than the data's (a time budget): the pool is at the data's.
        from ganaug.data.preprocess import resize_imageset

        train = self.prepared().train
        res.images = resize_imageset(res.images, train.resolution, train.channels)
        export(res, self.run_dir / "synthetic", formats=("npz",), overwrite=True)
        self.log(f"generated {len(res.images)} synthetic images ({n} per class) from {Path(res.snapshot).name}")
        return {"outputs": ["synthetic/images.npz", "synthetic/manifest.csv"], "images": len(res.images)}

    def _synthetic(self):
        from ganaug.data.imageset import ImageSet

        return ImageSet.load_npz(self.run_dir / "synthetic" / "images.npz")

    def stage_evaluate(self) -> dict[str, Any]:
        from ganaug.metrics.evaluation import evaluate

        p = self.prepared()
        e = self.cfg["evaluate"]
        kwargs = {"inception": e["inception"]} if e.get("inception") else {}
        res = evaluate(self._synthetic(), p.train, p.test, val=p.val, features=e["features"],
                       out=self.run_dir / "evaluate", device=self.cfg["device"], **kwargs)
        self.log(res.table())
        return {"outputs": ["evaluate/metrics.json"]}

    def stage_benchmark(self) -> dict[str, Any]:
        from ganaug.benchmarking import benchmark
        from ganaug.benchmarking.options import options_from

        p = self.prepared()
        opts = options_from(self.cfg["benchmark"], device=self.cfg["device"])
        res = benchmark(p.train, p.val, p.test, self._synthetic(), opts, out=self.run_dir, progress=self.progress,
                        log=self.log)
        res.plot(self.run_dir / "benchmark" / "benchmark.png")
        res.plot_per_class(self.run_dir / "benchmark" / "per_class_recall.png")
        self.log(res.table())
        self.log(res.verdict())
        return {"outputs": ["benchmark/results.json"], "verdict": res.headline(), "verdict_full": res.verdict()}

    def stage_report(self) -> dict[str, Any]:
        from ganaug.reporting import build_report

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
                raise UserError(f"stage {stage} needs {', '.join(missing)} first: run with --stages {need} "
                                f"(or without --stages) in {self.run_dir}")
            self.log(f"[{stage}] running")
            t0 = time.time()
            self.stages[stage] = {"status": "running", "key": self.keys[stage]}
            self.save_state()
            info = getattr(self, f"stage_{stage}")()
            self.stages[stage] = {"status": "done", "key": self.keys[stage], "seconds": round(time.time() - t0, 2),
                                  **info}
            self.save_state()
            self.log(f"[{stage}] done in {time.time() - t0:.1f} s")
        report = self.run_dir / "report.html"
        verdict = self.stages.get("benchmark", {}).get("verdict")
        return PipelineResult(self.run_dir, self.stages, report if report.exists() else None, verdict)


def run(
    data: str | Path | None = None,
    *,
    out: str | Path = "ganaug-run",
    config: str | Path | None = None,
    stages: Sequence[str] | None = None,
    force: Sequence[str] = (),
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> PipelineResult:
    """Run the whole pipeline (or ``stages``) on ``data`` into the run folder ``out``.

    ``config``: a TOML/YAML/JSON file with sections data, gan, generate, evaluate, benchmark
    (see ``DEFAULTS``); ``overrides`` like {"gan.kimg": 20, "benchmark.seeds": 3} win over it.
    """
    overrides = dict(overrides or {})
    if data is not None:
        overrides["data.source"] = str(data)
    cfg = load_config(config, overrides)
    if not cfg["data"]["source"]:
        raise UserError("no data: give a folder/file, or --builtin fashion-demo")
    stages = list(stages or STAGES)
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise UserError(f"unknown stage(s) {', '.join(bad)}; stages are: {', '.join(STAGES)}")
    run_dir = Path(out)
    check_out_outside_data(cfg["data"]["source"], run_dir)
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
        raise UserError(f"--out {out} is inside the data folder {source}: the run would write into the data "
                        "(and the next inspect would see its files as a class). Choose a folder outside it")
