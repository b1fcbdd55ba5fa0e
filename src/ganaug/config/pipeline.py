"""``ganaug run``'s configuration: :class:`PipelineConfig`, with one section per stage group
(data, gan, generate, evaluate, benchmark), read from defaults, a TOML/YAML/JSON file and overrides,
and saved resolved in the run folder's ``pipeline.json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ganaug.config.benchmark import BenchmarkOptions, options_from
from ganaug.config.gan import make_config, parse_budget
from ganaug.constants import FEATURE_KINDS
from ganaug.errors import UserError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as a package
    import tomli as tomllib


# ----------------------------------------------------------------------------
# `ganaug run`: one typed config with a section per stage group. It is the single source of the
# pipeline's defaults (`ganaug.run`, `ganaug run` and its --help read them). Every section checks its
# values when built, so a bad value fails before the first stage (a bad benchmark value must not surface
# after hours of training), with a message naming the key.


def _number(
    where: str,
    value: Any,
    *,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    optional: bool = False,
) -> None:
    if value is None and optional:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (integer and not isinstance(value, int))
    ):
        raise UserError(f"{where} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        raise UserError(f"{where} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise UserError(f"{where} must be >= {minimum:g}, got {value!r}")
    if maximum is not None and value > maximum:
        raise UserError(f"{where} must be <= {maximum:g}, got {value!r}")


def _string(where: str, value: Any, *, choices: Sequence[str] | None = None, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise UserError(f"{where} must be a string, got {value!r}")
    if choices is not None and value not in choices:
        raise UserError(f"{where}: unknown value {value!r}; choose from {', '.join(choices)}")


@dataclass(frozen=True)
class DataSection:
    """``[data]``: the data set and its split (the options of ``ganaug prepare``)."""

    source: str | None = None  # folder, CSV-labelled folder, zip, IDX, npz, or "builtin:fashion-demo"
    csv: str | None = None  # filename,label CSV for a flat folder of images
    seed: int = 0  # seed of the split
    val: float = 0.15  # validation fraction, per class
    test: float = 0.2  # test fraction, per class (ignored when the data has a test partition)
    per_class_limit: int | None = None  # scarcity: at most N training images per class
    imbalance: str | dict[str, int] | None = None  # training images per class: "shirt=20,coat=50"
    resolution: int | None = None  # None: the common size, else the median shorter side
    channels: int | None = None  # None: 1 if every image is grayscale, else 3

    def __post_init__(self) -> None:
        _string("data.source", self.source, optional=True)
        _string("data.csv", self.csv, optional=True)
        _number("data.seed", self.seed, integer=True, minimum=0)
        _number("data.val", self.val, minimum=0, maximum=0.9)
        _number("data.test", self.test, minimum=0, maximum=0.9)
        _number("data.per_class_limit", self.per_class_limit, integer=True, minimum=1, optional=True)
        if self.imbalance is not None and not isinstance(self.imbalance, (str, dict)):
            raise UserError(f'data.imbalance must be like "shirt=20,coat=50", got {self.imbalance!r}')
        _number("data.resolution", self.resolution, integer=True, minimum=1, optional=True)
        if self.channels not in (None, 1, 3):
            raise UserError(f"data.channels must be 1 or 3, got {self.channels!r}")


# [gan] options that are arguments of train(), not TrainConfig fields
_TRAIN_ARGS = ("transfer", "classes", "conditional", "diagnostics")


@dataclass(frozen=True)
class GanSection:
    """``[gan]``: the GAN and its training. Any other ``ganaug train`` option (a TrainConfig or
    NetworkConfig field such as ``kimg``, or a train() argument such as ``transfer``) is kept in
    ``options`` and checked by building the TrainConfig the train stage would build."""

    arch: str = "stylegan2"  # bench/bench_quality.py's winner on CPU at an equal time budget
    preset: str = "cpu"
    seed: int = 0
    budget: str | float | None = (
        None  # "15m", "90s", "1h", "off"; None: the preset's (see ganaug.training.budget)
    )
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _string("gan.arch", self.arch)
        _string("gan.preset", self.preset)
        try:
            parse_budget(self.budget)
        except UserError as e:
            raise UserError(f"[gan] budget: {e}") from None
        checked = {k: v for k, v in self.options.items() if k not in _TRAIN_ARGS}
        res, ch = checked.pop("resolution", None), checked.pop("channels", None)
        _number("gan.resolution", res, integer=True, minimum=16, optional=True)
        if ch not in (None, 1, 3):
            raise UserError(f"gan.channels must be 1 or 3, got {ch!r}")
        try:  # with a stand-in data shape: the real one is known once the data is split
            make_config(
                self.arch,
                self.preset,
                resolution=res or 32,
                channels=ch or 3,
                num_classes=2,
                seed=self.seed,
                **checked,
            )
        except TypeError as e:  # a value of the wrong kind reaching a dataclass
            raise UserError(f"[gan]: {e}") from None
        except UserError as e:
            raise UserError(f"[gan] {e}") from None

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> GanSection:
        options = dict(values)
        named = {k: options.pop(k) for k in ("arch", "preset", "seed", "budget") if k in options}
        return cls(**named, options=options)

    def train_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`ganaug.training.train` besides arch and preset."""
        return {k: v for k, v in self.to_dict().items() if k not in ("arch", "preset")}

    def to_dict(self) -> dict[str, Any]:
        """One flat table, as in the config file; no budget key when none is set."""
        budget = {} if self.budget is None else {"budget": self.budget}
        return {"arch": self.arch, "preset": self.preset, "seed": self.seed, **budget, **self.options}


@dataclass(frozen=True)
class GenerateSection:
    """``[generate]``: the pool of synthetic images the evaluation and the benchmark draw from."""

    truncation: float = 1.0  # truncation psi
    per_class: int | None = None  # None: enough for the largest benchmark fraction

    def __post_init__(self) -> None:
        _number("generate.truncation", self.truncation, minimum=0, maximum=2)
        _number("generate.per_class", self.per_class, integer=True, minimum=1, optional=True)


@dataclass(frozen=True)
class EvaluateSection:
    """``[evaluate]``: the feature extractor of FID/KID/PRDC."""

    features: str = "trained"  # one of FEATURE_KINDS
    inception: str | None = None  # Inception weights file (features = "inception")

    def __post_init__(self) -> None:
        _string("evaluate.features", self.features, choices=FEATURE_KINDS)
        _string("evaluate.inception", self.inception, optional=True)


@dataclass(frozen=True)
class PipelineConfig:
    """Everything ``ganaug run`` needs; saved resolved in the run folder's ``pipeline.json``.

    ``benchmark`` is kept as given (lists stay lists, 0 stays 0) and normalised only when the stage
    runs (:meth:`benchmark_options`): :meth:`to_dict` must give the same dict, and so the same stage
    fingerprints, as earlier versions, or a resumed run would redo finished stages.
    """

    data: DataSection = field(default_factory=DataSection)
    gan: GanSection = field(default_factory=GanSection)
    generate: GenerateSection = field(default_factory=GenerateSection)
    evaluate: EvaluateSection = field(default_factory=EvaluateSection)
    benchmark: BenchmarkOptions = field(default_factory=BenchmarkOptions)  # its device: the one below
    device: str = "auto"

    def __post_init__(self) -> None:
        try:
            self.benchmark.validated()
        except UserError as e:
            raise UserError(f"[benchmark] {e}") from None
        _string("device", self.device)

    # -- building -------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "config") -> PipelineConfig:
        """The defaults updated by a nested dict such as {"gan": {"kimg": 20}}; unknown keys are errors
        (except in the open [gan] table)."""
        merged = cls().to_dict()
        _merge(merged, values, where)
        return cls._from_dict(merged)

    @classmethod
    def load(
        cls, source: str | Path | PipelineConfig | None = None, overrides: Mapping[str, Any] | None = None
    ) -> PipelineConfig:
        """``source`` (a TOML/YAML/JSON file, a PipelineConfig, or None: the defaults), then
        ``overrides`` such as {"gan.kimg": 10} (None values are skipped)."""
        if isinstance(source, PipelineConfig):
            merged = source.to_dict()
        else:
            merged = cls().to_dict()
            if source is not None:
                _merge(merged, read_config_file(Path(source)), str(source))
        for key, value in (overrides or {}).items():
            if value is None:
                continue
            nested: Any = value
            for part in reversed(key.split(".")):
                nested = {part: nested}
            _merge(merged, nested, f"setting {key}")  # the same key checks as a config file
        return cls._from_dict(merged)

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> PipelineConfig:
        return cls(
            data=DataSection(**d["data"]),
            gan=GanSection.from_mapping(d["gan"]),
            generate=GenerateSection(**d["generate"]),
            evaluate=EvaluateSection(**d["evaluate"]),
            benchmark=BenchmarkOptions(**d["benchmark"]),
            device=d["device"],
        )

    # -- reading ------------------------------------------------------------------
    def benchmark_options(self) -> BenchmarkOptions:
        """The benchmark stage's checked options, on the pipeline's device."""
        return options_from(self.benchmark, device=self.device)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values, one table per section, as in a config file."""
        benchmark = self.benchmark.to_dict()
        benchmark.pop("device")  # the top-level device is the benchmark's
        return {
            "data": asdict(self.data),
            "gan": self.gan.to_dict(),
            "generate": asdict(self.generate),
            "evaluate": asdict(self.evaluate),
            "benchmark": benchmark,
            "device": self.device,
        }


def read_config_file(path: Path) -> dict[str, Any]:
    """A TOML, YAML or JSON config file as a dict; UserError naming the file when it cannot be read."""
    if not path.exists():
        raise UserError(f"config file {path} not found")
    if path.suffix not in (".toml", ".yaml", ".yml", ".json"):
        raise UserError(f"config file {path}: use .toml, .yaml or .json")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        if path.suffix == ".json":
            return json.loads(text)
        return yaml.safe_load(text) or {}
    except Exception as e:
        raise UserError(f"cannot read config file {path}: {e}") from None


def _merge(dst: dict, src: Any, where: str, open_keys: bool = False) -> None:
    """Merge ``src`` into ``dst``; unknown keys are errors except in open sections ([gan])."""
    if not isinstance(src, dict):
        raise UserError(f"{where}: expected a table of settings, got {type(src).__name__} {src!r}")
    for k, v in src.items():
        if k not in dst and not open_keys:
            raise UserError(f"{where}: unknown key {k!r} (known: {', '.join(dst)})")
        if isinstance(dst.get(k), dict) and not isinstance(v, dict):
            raise UserError(
                f"{where}: [{k}] must be one table of settings ({k}.KEY = VALUE), got "
                f"{type(v).__name__} {v!r}"
            )
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v, f"{where} [{k}]", open_keys=(k == "gan"))
        else:
            dst[k] = v
