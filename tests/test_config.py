"""`PipelineConfig`: one typed source of `ganaug run`'s defaults, checked before any stage runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganaug.config import BenchmarkOptions, DataSection, GanSection, PipelineConfig, TrainConfig
from ganaug.constants import STAGES
from ganaug.errors import UserError
from ganaug.pipeline import Pipeline

# The untyped DEFAULTS dict of earlier versions: pipeline.json fingerprints are computed from this shape.
FORMER_DEFAULTS = {
    "data": {
        "source": None,
        "csv": None,
        "seed": 0,
        "val": 0.15,
        "test": 0.2,
        "per_class_limit": None,
        "imbalance": None,
        "resolution": None,
        "channels": None,
    },
    "gan": {"arch": "stylegan2", "preset": "cpu", "seed": 0},
    "generate": {"truncation": 1.0, "per_class": None},
    "evaluate": {"features": "trained", "inception": None},
    "benchmark": {
        "fractions": [0.0, 0.25, 0.5, 0.75, 1.0],
        "balance": "fix",
        "seeds": 5,
        "arch": "smallcnn",
        "epochs": 20,
        "min_steps": 300,
        "batch_size": None,
        "lr": None,
        "baselines": ["classic", "oversample", "weighted", "balanced_sampling", "smote", "synthetic_only"],
        "jobs": 2,
        "image_size": None,
        "pretrained_weights": None,
        "finetune": False,
        "bootstrap": 2000,
        "confidence": 0.95,
    },
    "device": "auto",
}


def test_defaults_have_the_former_shape():
    assert PipelineConfig().to_dict() == FORMER_DEFAULTS
    assert json.loads(json.dumps(PipelineConfig().to_dict())) == FORMER_DEFAULTS


def test_stage_fingerprints_are_those_of_earlier_versions(tmp_path):
    # Computed with the dict-based pipeline (commit fd7809b): a run folder made by it must resume, not redo.
    cfg = PipelineConfig.load(
        None,
        {
            "data.source": "x.npz",
            "gan.kimg": 3,
            "gan.budget": "2m",
            "benchmark.fractions": [0, 0.5],
            "benchmark.seeds": [1, 2],
            "device": "cpu",
        },
    )
    pipe = Pipeline(cfg, tmp_path / "run")
    keys = {s: pipe._key(s) for s in STAGES}
    assert keys == {
        "inspect": "ac78b4875314aa19",
        "split": "e1f6fb83a4f26a6f",
        "train": "c6e392f5fb9f6cd3",
        "generate": "74c89a6dd09a22bc",
        "evaluate": "8de91c9d0f34ece4",
        "benchmark": "9ef976713edf5927",
        "report": "f195f11bcaa16d44",
    }
    # Values are kept as given (0 stays 0: JSON "0", not "0.0"); no budget key unless one is set.
    assert cfg.to_dict()["benchmark"]["fractions"] == [0, 0.5]
    assert json.dumps(cfg.to_dict()["benchmark"]["fractions"]) == "[0, 0.5]"
    assert PipelineConfig.load(None, {"gan.kimg": 3}).to_dict()["gan"] == {
        "arch": "stylegan2",
        "preset": "cpu",
        "seed": 0,
        "kimg": 3,
    }


def test_sections_are_typed_and_the_benchmark_runs_normalised_options():
    cfg = PipelineConfig.from_mapping(
        {
            "gan": {"arch": "dcgan", "kimg": 5, "transfer": "x.pkl"},
            "benchmark": {"fractions": [0, 1], "seeds": 2},
            "device": "cpu",
        }
    )
    assert cfg.gan == GanSection(arch="dcgan", options={"kimg": 5, "transfer": "x.pkl"})
    assert cfg.gan.train_kwargs() == {"seed": 0, "kimg": 5, "transfer": "x.pkl"}
    opts = cfg.benchmark_options()
    assert opts.fractions == (0.0, 1.0) and opts.device == "cpu" and opts.seeds == 2
    assert PipelineConfig.load(cfg, {"gan.kimg": 7}).gan.options["kimg"] == 7  # a typed config as the source


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({"data": {"val": 2}}, "data.val must be <= 0.9"),
        ({"data": {"channels": 2}}, "data.channels must be 1 or 3"),
        ({"gan": {"nosuch": 1}}, "[gan] unknown option(s): nosuch"),
        ({"gan": {"kimg": "fast"}}, "kimg must be a finite number"),
        ({"gan": {"resolution": 8}}, "gan.resolution must be >= 16"),
        ({"gan": {"budget": [1]}}, "[gan] budget"),
        (
            {"gan": {"transfer_classes": "closest"}},
            "unknown transfer_classes 'closest'; choose from names, nearest",
        ),
        ({"generate": {"truncation": float("nan")}}, "generate.truncation must be a finite number"),
        ({"evaluate": {"features": "vgg"}}, "evaluate.features: unknown value 'vgg'"),
        ({"benchmark": {"seeds": "abc"}}, "[benchmark] seeds must be"),
        (
            {"benchmark": {"device": "cpu"}},
            "unknown key 'device'",
        ),  # the benchmark's device is the top-level one
        ({"benchmark": 3}, "[benchmark] must be one table"),
        ({"device": 3}, "device must be a string"),
    ],
)
def test_bad_values_name_their_key(mapping, message):
    with pytest.raises(UserError) as e:
        PipelineConfig.from_mapping(mapping)
    assert message in str(e.value)


def test_fractions_are_fractions_everywhere_with_a_clear_error_for_percentages():
    assert BenchmarkOptions(fractions=(0, 0.5, 2.0)).validated().fractions == (0.0, 0.5, 2.0)
    for bad in ((0, 25, 50), [0, 100]):
        with pytest.raises(UserError, match=r"fractions are in 0\.\.1 \(e\.g\. 0\.25,0\.5.*got 25|got 100"):
            BenchmarkOptions(fractions=bad).validated()
    with pytest.raises(UserError, match=r"\[benchmark\] fractions are in 0\.\.1.*did you mean 0\.5\?"):
        PipelineConfig.load(None, {"benchmark.fractions": [0, 50]})


def test_config_files_of_every_kind(tmp_path: Path):
    (tmp_path / "c.json").write_text('{"gan": {"preset": "tiny"}, "data": {"imbalance": {"a": 3}}}')
    cfg = PipelineConfig.load(tmp_path / "c.json")
    assert cfg.gan.preset == "tiny" and cfg.data == DataSection(imbalance={"a": 3})
    (tmp_path / "c.ini").write_text("")
    with pytest.raises(UserError, match="use .toml, .yaml or .json"):
        PipelineConfig.load(tmp_path / "c.ini")
    (tmp_path / "bad.toml").write_text("[gan\n")
    with pytest.raises(UserError, match="cannot read config file"):
        PipelineConfig.load(tmp_path / "bad.toml")
    with pytest.raises(UserError, match="not found"):
        PipelineConfig.load(tmp_path / "missing.yaml")


def test_train_config_has_no_nan_check_and_old_snapshots_still_load():
    assert "nan_check" not in TrainConfig().to_dict()
    old = {**TrainConfig().to_dict(), "nan_check": True}  # training_options.json of an earlier version
    assert TrainConfig.from_dict(old) == TrainConfig()
