"""bench/bench_quality.py: its candidate table is valid, and it runs end to end at a tiny size."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from ganaug.errors import UserError


def load_bench():
    path = Path(__file__).resolve().parents[1] / "bench" / "bench_quality.py"
    spec = importlib.util.spec_from_file_location("bench_quality", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_candidate_table_parses_and_every_override_is_a_config_option():
    bq = load_bench()
    cands = bq.parse_candidates()
    assert {"dcgan-cpu", "sg2-cpu"} <= set(cands)
    assert cands["sg2-mid"] == {
        "arch": "stylegan2",
        "preset": "cpu",
        "overrides": {"channel_base": 2048, "channel_max": 128},
        "transfer": None,
    }
    assert cands["dcgan-cpu"]["overrides"] == {}
    assert cands["sg2-transfer-fd"]["transfer"] == "builtin:fashion-garments"
    assert cands["sg2-transfer-fd"]["overrides"] == {"freeze_d": 4}
    with pytest.raises(UserError, match="unknown option"):
        bq.parse_candidates("name arch preset overrides\nx stylegan2 cpu chanel_base=4096\n")


@pytest.mark.heavy
def test_bench_quality_end_to_end_tiny(tmp_path, capsys):
    bq = load_bench()
    out = tmp_path / "bq"
    bq.main(
        [
            "--candidates",
            "dcgan-cpu",
            "--kimg",
            "0.1",
            "--n",
            "24",
            "--feature-epochs",
            "1",
            "--seeds",
            "2",
            "--epochs",
            "1",
            "--jobs",
            "1",
            "--threads",
            "1",
            "--out",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert "FLOOR real" in text and "dcgan-cpu" in text and "GAN - oversample" in text
    res = json.loads((out / "bench_quality.json").read_text())
    c = res["candidates"]["dcgan-cpu"]
    assert "error" not in c, c.get("error")
    assert set(c["metrics"]) == {"overall", "tshirt", "pullover", "shirt"}
    assert 0 <= c["metrics"]["overall"]["coverage"]["vs_train"] <= 1
    assert c["kimg"] == pytest.approx(0.128)  # 0.1 kimg rounded up to whole batches of 64
    d = c["downstream"]
    assert d["seeds"] == 2 and d["diff"] == pytest.approx(d["gan"] - d["oversample"])
    assert (out / "evaluate" / "dcgan-cpu" / "metrics.json").is_file()
    assert (out / "bench_quality.txt").read_text().startswith("candidate")
