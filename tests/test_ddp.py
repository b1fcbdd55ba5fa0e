"""Multi-process training with torchrun and gloo on CPU (2 processes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganaug.checkpoint import load_snapshot
from ganaug.training import train
from ganaug.utils import read_jsonl
from test_training import blobs, tiny

pytestmark = pytest.mark.ddp
WORKER = Path(__file__).parent / "ddp_worker.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(out: Path, nproc: int, **opts) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        str(WORKER),
        str(out),
        json.dumps(opts),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[1] / "src"))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(nproc)]


def _flat(sd: dict) -> torch.Tensor:
    return torch.cat([v.float().flatten() for v in sd.values()])


@pytest.fixture(scope="module")
def ddp_ada(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp_ada")
    # p starts at 0.5 and moves by 0.04 per D step: it changes whichever way D's statistic points.
    ranks = torchrun(
        out,
        2,
        kimg=0.064,
        tick_kimg=0.032,
        snap=1,
        aug="ada",
        aug_p=0.5,
        ada_kimg=0.2,
        ada_interval=1,
        batch_size=8,
    )
    return out, ranks


def test_ranks_hold_identical_weights_and_ada_p(ddp_ada):
    _, (r0, r1) = ddp_ada
    assert r0["cur_nimg"] == r1["cur_nimg"] == 64
    torch.testing.assert_close(_flat(r0["G"]), _flat(r1["G"]), rtol=0, atol=0)
    torch.testing.assert_close(_flat(r0["D"]), _flat(r1["D"]), rtol=0, atol=0)
    assert r0["p"] == r1["p"] and r0["p"] != pytest.approx(0.5)  # p moved, identically on both ranks


def test_only_rank0_writes_and_ddp_snapshot_resumes_in_one_process(ddp_ada, tmp_path):
    out, _ = ddp_ada
    run = out / "run"
    assert len(read_jsonl(run / "stats.jsonl")) == 2  # one line per tick, not per rank
    assert json.loads((run / "training_options.json").read_text())["world_size"] == 2
    res = train(blobs(), resume=run, kimg=0.096, progress=False, log=lambda s: None)
    assert res.cur_nimg == 96
    assert load_snapshot(run)["cur_nimg"] == 96


def test_single_process_snapshot_resumes_under_ddp(tmp_path):
    cfg = tiny(kimg=0.032, tick_kimg=0.032, batch_size=8)
    train(blobs(), cfg, run_dir=tmp_path / "run", progress=False, log=lambda s: None)
    r0, r1 = torchrun(tmp_path, 2, resume=str(tmp_path / "run"), kimg=0.064)
    assert r0["cur_nimg"] == r1["cur_nimg"] == 64
    torch.testing.assert_close(_flat(r0["G"]), _flat(r1["G"]), rtol=0, atol=0)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_two_processes_follow_the_single_process_loss_curve(tmp_path, batch_norm):
    """2 x B/2 with gradient averaging (and synchronised batch norm) == 1 x B."""
    opts = dict(
        kimg=0.128,
        tick_kimg=0.016,
        snap=100,
        aug="none",
        batch_size=8,
        g_batch_norm=batch_norm,
        d_batch_norm=batch_norm,
    )
    single = train(blobs(), tiny(**opts), run_dir=tmp_path / "single", progress=False, log=lambda s: None)
    r0, _ = torchrun(tmp_path / "ddp", 2, **opts)
    one = [(s["loss_G"], s["loss_D"]) for s in single.stats]
    two = [(s["loss_G"], s["loss_D"]) for s in r0["stats"]]
    assert len(one) == len(two) == 8
    torch.testing.assert_close(torch.tensor(two), torch.tensor(one), rtol=2e-3, atol=2e-4)


def test_fastgan_ranks_stay_identical(tmp_path):
    """FastGAN under 2 processes: batch norm everywhere, spectral norm, D's reconstruction path."""
    r0, r1 = torchrun(tmp_path, 2, arch="fastgan", kimg=0.032, tick_kimg=0.016, snap=100, batch_size=8)
    assert r0["cur_nimg"] == r1["cur_nimg"] == 32
    torch.testing.assert_close(_flat(r0["G"]), _flat(r1["G"]), rtol=0, atol=0)
    torch.testing.assert_close(_flat(r0["D"]), _flat(r1["D"]), rtol=0, atol=0)
    assert all(s["loss_rec"] > 0 for s in r0["stats"])
