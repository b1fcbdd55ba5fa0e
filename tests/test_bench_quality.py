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
    assert cands["sg2-transfer-fd"]["overrides"] == {"freeze_d": 4, "mode_seeking": 0}
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


def test_a_minutes_budget_trains_each_candidate_for_that_time_whatever_the_estimate(tmp_path):
    """Timed steps put one configuration at 26.6 kimg and, in the next process, at 41.7 kimg for the
    same 6 minutes: the budget is kept by the run's time limit, not by the estimate."""
    import numpy as np

    from ganaug.data.imageset import ImageSet

    bq = load_bench()
    rng = np.random.default_rng(0)
    data = ImageSet(rng.integers(0, 256, (16, 1, 16, 16), dtype=np.uint8), np.arange(16) % 2, ["a", "b"])
    cand = {"arch": "dcgan", "preset": "tiny", "overrides": {}, "transfer": None}
    res, _ = bq.train_candidate(data, "under", cand, 0.1, tmp_path, 0, seconds=1.5)  # the estimate: 0.1
    last = res.stats[-1]
    assert res.cur_nimg > 100  # trained on past the estimate ...
    if res.cur_nimg < 400:  # ... until the time was up (or, on a fast machine, to 4x the estimate)
        assert last["stopped"] == "time limit" and 1.5 <= last["time_s"] < 1.5 + 5
    res, _ = bq.train_candidate(data, "fixed", cand, 0.032, tmp_path, 0)  # --kimg: the length as given
    assert res.cur_nimg == 32 and "stopped" not in res.stats[-1]
