"""Run under torchrun by tests/test_ddp.py: train a tiny GAN and dump this rank's state."""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from ganaug.config import make_config
from ganaug.training import train
from test_training import blobs


def main() -> None:
    out = Path(sys.argv[1])
    opts = json.loads(sys.argv[2])
    resume = opts.pop("resume", None)
    arch = opts.pop("arch", "dcgan")
    cfg = make_config(arch, "tiny", resolution=16, channels=1, num_classes=2, device="cpu", **opts)
    dumped = {}

    def dump(info):
        if info.done:
            t = info.trainer
            dumped.update(
                G=t.G.state_dict(),
                D=t.D.state_dict(),
                p=float(t.augment_pipe.p) if getattr(t.augment_pipe, "p", None) is not None else -1.0,
            )

    res = train(
        blobs(),
        None if resume else cfg,
        run_dir=None if resume else out / "run",
        resume=resume,
        progress=False,
        callbacks=[dump],
        log=lambda s: None,
        kimg=opts.get("kimg"),
    )
    rank = (
        torch.distributed.get_rank()
        if torch.distributed.is_initialized()
        else int(__import__("os").environ.get("RANK", 0))
    )
    torch.save({**dumped, "cur_nimg": res.cur_nimg, "stats": res.stats}, out / f"rank{rank}.pt")


if __name__ == "__main__":
    main()
