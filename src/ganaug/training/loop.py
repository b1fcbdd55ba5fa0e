"""The GAN training loop (:class:`Trainer`): one loop for DCGAN, StyleGAN2 and FastGAN, conditional or not.

Length is counted in images shown to D (kimg). Upkeep happens once per tick: a stats line,
a sample grid from fixed seeds, a snapshot every ``snap`` ticks and the tick callbacks
(where metrics plug in). Everything needed to continue exactly is in the snapshot:
weights, optimisers, EMA, augmentation probability, the ADA statistic, counters and RNG
states, so a killed run resumes from its last snapshot as if it had never stopped.

Multi-process (torchrun): every rank draws the same global batch and takes its slice
(:mod:`ganaug.training.sampler`), gradients are averaged across ranks before each optimiser
step (:mod:`ganaug.distributed`), and only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ganaug import checkpoint as ckpt
from ganaug.augment.ada import AdaController, AugmentPipe
from ganaug.augment.diffaugment import DiffAugment
from ganaug.config import TrainConfig
from ganaug.data.imageset import ImageSet
from ganaug.distributed import (
    average_gradients,
    broadcast_module,
    convert_sync_batchnorm,
    mean_over_ranks,
    rank_and_world_size,
)
from ganaug.errors import CheckpointError, TrainingDivergedError, UserError
from ganaug.losses import (
    d_accuracy,
    d_loss_fake,
    d_loss_real,
    g_loss,
    mode_seeking_loss,
    path_lengths,
    r1_penalty,
)
from ganaug.models import build_discriminator, build_generator
from ganaug.training import stopping
from ganaug.training.collapse import check_collapse
from ganaug.training.grids import SampleGrid, save_png
from ganaug.training.result import TickCallback, TickInfo, TrainResult
from ganaug.training.sampler import BatchSampler, prepare_training_images
from ganaug.training.state import load_trainer_state, trainer_state
from ganaug.training.stats import (
    Totals,
    format_stats,
    tensorboard_writer,
    tick_stats,
    write_tensorboard,
    zero_totals,
)
from ganaug.training.transfer import load_transfer
from ganaug.utils import append_jsonl, cpu_has_native_bf16, read_jsonl, resolve_device


class Trainer:
    def __init__(
        self,
        train: ImageSet,
        cfg: TrainConfig,
        run_dir: Path,
        *,
        resume_state: dict | None = None,
        transfer: str | Path | dict | None = None,
        callbacks: Sequence[TickCallback] = (),
        progress: bool = True,
        log: Callable[[str], None] | None = None,
    ):
        self.cfg = cfg
        self.run_dir = run_dir
        self.callbacks = list(callbacks)
        self.progress = progress
        self.rank, self.world_size = rank_and_world_size()
        self.is_main = self.rank == 0
        self._log = (log or print) if self.is_main else (lambda msg: None)  # rank 0 speaks for the run
        self.class_names = list(train.class_names)
        if cfg.batch_size % self.world_size:
            raise UserError(
                f"batch size {cfg.batch_size} is not divisible by the {self.world_size} processes"
            )
        self.batch_gpu = cfg.batch_size // self.world_size
        self._setup_device()

        # Seeds: the batch sampler is identical on every rank; module randomness differs per rank.
        torch.manual_seed(cfg.seed * 1000 + self.rank)
        self._setup_data(train)
        self._build_networks()
        self._build_optimisers()
        self._build_augmentation()

        # Counters.
        self.cur_nimg = 0
        self.cur_tick = 0
        self.d_steps_done = 0
        self.g_steps_done = 0
        self.stats_history: list[dict] = []
        self.warnings: list[str] = []
        self.start_time_offset = 0.0
        self._last_snapshot: Path | None = None  # written by this call of run()

        if transfer is not None:
            load_transfer(transfer, cfg, dict(G=self.G, D=self.D, G_ema=self.G_ema), self.data_cpu, self._log)
        if resume_state is not None:
            self._load_state(resume_state)
        # Transitional training's class strength, kept here as a float so that a step reads no device
        # buffer; the networks' buffers (saved in snapshots) are written only when it changes.
        saved = getattr(self.D, "cond_strength", None)
        self._cond_strength = 1.0
        if saved is not None:
            self._set_cond_strength(float(saved) if resume_state is not None else cfg.cond_strength_at(0))
        if cfg.freeze_d:
            # Frozen layers stay frozen: D.requires_grad_(True) before each D step leaves them alone.
            if hasattr(self.D, "freeze_layers"):
                self.D.freeze_layers(cfg.freeze_d)
            else:
                self.D.freeze_blocks(cfg.freeze_d)
        self._compile()

        self.grid = SampleGrid(cfg.network, cfg.grid_seeds)
        k = max(cfg.network.num_classes, 1)
        if cfg.network.conditional and len(self.grid.classes) < k:
            self._log(
                f"sample grids show {len(self.grid.classes)} of the {k} classes (evenly spaced, the same "
                "every tick)"
            )

    # -- setup -------------------------------------------------------------------
    def _setup_device(self) -> None:
        self.device = resolve_device(self.cfg.device)
        if self.device.type == "cuda" and self.world_size > 1:
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", self.rank)))
            torch.cuda.set_device(self.device)
        self.cuda = self.device.type == "cuda"
        # bf16 mixed precision (losses and R1 in fp32): on CUDA, and on CPUs with native bf16
        # (measured 1.8x faster per DCGAN-64 step on AVX512-BF16; emulated bf16 would be slower).
        self.amp = self.cfg.amp and (self.cuda or cpu_has_native_bf16())

    def _setup_data(self, train: ImageSet) -> None:
        """Images as uint8 on the training device when they fit, otherwise in host memory."""
        cfg = self.cfg
        data = prepare_training_images(train, cfg)
        if len(data) != len(train):
            how = " and ".join(
                w
                for w, on in (
                    ("x-flipped copies", cfg.mirror),
                    (f"x{cfg.multiply} classic augmentation", cfg.multiply > 1),
                )
                if on
            )
            self._log(f"training images: {len(train)} -> {len(data)} with {how}")
        self.data_cpu = data
        on_device = (
            not self.cuda
            or data.images.nbytes < 0.25 * torch.cuda.get_device_properties(self.device).total_memory
        )
        store = self.device if on_device else torch.device("cpu")
        self.x_u8 = torch.from_numpy(data.images).to(store)
        self.labels = torch.from_numpy(data.labels).to(store)
        self.num_images = len(data)
        self.sampler = BatchSampler(
            torch.from_numpy(data.labels),
            len(data.class_names),
            cfg.seed,
            balanced=cfg.balanced_sampling and cfg.network.conditional,
        )

    def _build_networks(self) -> None:
        cfg = self.cfg
        self.G = build_generator(cfg.network).train().to(self.device)
        self.D = build_discriminator(cfg.network).train().to(self.device)
        if self.cuda and cfg.channels_last:
            self.G = self.G.to(memory_format=torch.channels_last)
            self.D = self.D.to(memory_format=torch.channels_last)
        if self.world_size > 1:
            # Batch-norm statistics over the global batch, so N processes train like one.
            convert_sync_batchnorm(self.G)
            convert_sync_batchnorm(self.D)
            broadcast_module(self.G)
            broadcast_module(self.D)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        # D with an auxiliary loss on reals (FastGAN's reconstruction): D(x, c, return_aux=True) -> (logits, loss).
        self.d_aux = bool(getattr(self.D, "has_aux_loss", False))

    def _build_optimisers(self) -> None:
        """Adam for G and D. Lazy regularisation (R1 for D every r1_interval steps, path length for G
        every pl_interval) rescales the lr and betas by interval / (interval + 1) (StyleGAN2 appendix B,
        as officially)."""
        cfg = self.cfg
        self.r1_gamma = cfg.resolved_r1_gamma
        self.pl_weight = cfg.resolved_pl_weight if cfg.network.arch == "stylegan2" else 0.0
        d_lazy_ratio = cfg.r1_interval / (cfg.r1_interval + 1) if self.r1_gamma > 0 else 1.0
        g_lazy_ratio = cfg.pl_interval / (cfg.pl_interval + 1) if self.pl_weight > 0 else 1.0
        d_betas = (cfg.betas[0] ** d_lazy_ratio, cfg.betas[1] ** d_lazy_ratio)
        g_betas = (cfg.betas[0] ** g_lazy_ratio, cfg.betas[1] ** g_lazy_ratio)
        self.opt_G = torch.optim.Adam(
            self.G.parameters(), lr=cfg.g_lr * g_lazy_ratio, betas=g_betas, eps=1e-8
        )
        self.opt_D = torch.optim.Adam(
            self.D.parameters(), lr=cfg.d_lr * d_lazy_ratio, betas=d_betas, eps=1e-8
        )
        self.pl_mean = torch.zeros([], device=self.device)  # running mean path length

    def _build_augmentation(self) -> None:
        """What D sees: ADA or a fixed-p pipeline (with its p controller for ADA), DiffAugment, or none."""
        cfg = self.cfg
        self.augment_pipe: nn.Module | None = None
        self.ada = None
        if cfg.aug in ("ada", "fixed"):
            self.augment_pipe = (
                AugmentPipe(cfg.network.channels).train().requires_grad_(False).to(self.device)
            )
            self.augment_pipe.set_p(cfg.aug_p)
            if cfg.aug == "ada":
                self.ada = AdaController(
                    target=cfg.ada_target,
                    speed_kimg=cfg.ada_kimg,
                    interval=cfg.ada_interval,
                    batch_size=cfg.batch_size,
                    num_classes=cfg.network.num_classes,
                    per_class=cfg.ada_per_class,
                )
        elif cfg.aug == "diffaug":
            self.augment_pipe = DiffAugment(cfg.diffaug_policy)

    def _compile(self) -> None:
        """The modules the steps call: G and D, compiled with torch.compile if asked (state stays in G, D)."""
        self.G_run = self.G
        self.D_run = self.D
        stylegan2 = self.cfg.network.arch == "stylegan2"
        self.G_mapping, self.G_synthesis = (self.G.mapping, self.G.synthesis) if stylegan2 else (None, None)
        if self.cfg.compile:
            self.G_run = torch.compile(self.G)
            self.D_run = torch.compile(self.D)
            if self.G_mapping is not None:
                self.G_mapping, self.G_synthesis = (
                    torch.compile(self.G_mapping),
                    torch.compile(self.G_synthesis),
                )

    @property
    def cond_strength(self) -> float:
        """Weight of the class input in G and D (transitional training; 1 otherwise)."""
        return self._cond_strength

    def _set_cond_strength(self, value: float) -> None:
        self._cond_strength = value
        for net in (self.G, self.D, self.G_ema):
            if hasattr(net, "set_cond_strength"):
                net.set_cond_strength(value)

    # -- state -----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs (see :mod:`ganaug.training.state`)."""
        return trainer_state(self)

    def _load_state(self, s: dict[str, Any]) -> None:
        load_trainer_state(self, s)

    def elapsed(self) -> float:
        return self.start_time_offset + (time.time() - self._t0 if hasattr(self, "_t0") else 0.0)

    # -- batches -----------------------------------------------------------------
    def _my_slice(self, global_batch: torch.Tensor) -> torch.Tensor:
        return global_batch[self.rank * self.batch_gpu : (self.rank + 1) * self.batch_gpu]

    def _next_indices(self) -> torch.Tensor:
        """This rank's slice of the next global batch of real images."""
        return self._my_slice(self.sampler.real_indices(self.cfg.batch_size))

    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = self._next_indices().to(self.x_u8.device)
        x = self.x_u8[idx].to(self.device, non_blocking=True).float().div_(127.5).sub_(1.0)
        if self.cuda and self.cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        c = self.labels[idx].to(self.device, non_blocking=True) if self.cfg.network.conditional else None
        return x, c

    def _latents(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's slice of the next global batch of z and labels for fakes."""
        net = self.cfg.network
        z, c = self.sampler.latents(self.cfg.batch_size, net.z_dim, net.conditional)
        z = self._my_slice(z).to(self.device, non_blocking=True)
        return z, (self._my_slice(c).to(self.device, non_blocking=True) if c is not None else None)

    def _autocast(self, enabled: bool = True):
        if enabled and self.amp:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees: augmented in float32 with autocast off, in every pass (reals, D's fakes, G's
        fakes), so that G is trained against exactly the augmentation D is."""
        if self.augment_pipe is None:
            return x
        with torch.autocast(self.device.type, enabled=False):
            return self.augment_pipe(x.float())

    def _run_G(self, z: torch.Tensor, c: torch.Tensor | None, return_ws: bool = False):
        """Fakes (and, for StyleGAN2 with ``return_ws``, the ws they came from), with style mixing."""
        if self.G_mapping is None:
            img = self.G_run(z, c)
            return (img, None) if return_ws else img
        ws = self.G_mapping(z, c, update_w_avg=True)
        if self.cfg.style_mixing > 0 and torch.rand([]) < self.cfg.style_mixing:
            cutoff = int(torch.randint(1, ws.shape[1], []))
            ws2 = self.G_mapping(torch.randn_like(z), c, update_w_avg=False)
            ws = torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)
        img = self.G_synthesis(ws)
        return (img, ws) if return_ws else img

    def _optimizer_step(self, module: nn.Module, opt: torch.optim.Optimizer, totals: Totals) -> None:
        """Average gradients over ranks, zero non-finite ones (counted in the stats), step."""
        average_gradients(module)
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if grads:
            norms = torch.stack(torch._foreach_norm(grads))
            totals["nonfinite_grads"] += (~torch.isfinite(norms)).sum()  # tensors with a NaN/inf gradient
            for g in grads:
                torch.nan_to_num_(g, nan=0.0, posinf=1e5, neginf=-1e5)
        opt.step()

    # -- steps -----------------------------------------------------------------
    def _d_step(self, totals: Totals) -> None:
        """One D update. Reals and fakes each get their own forward+backward pass: batch-norm
        collectives then run in the same order on every process (and memory peaks lower)."""
        cfg = self.cfg
        do_r1 = self.r1_gamma > 0 and self.d_steps_done % cfg.r1_interval == 0
        x, c = self._real_batch()
        z, c_fake = self._latents()  # fresh latents for this phase (the G step draws its own)
        self.D.requires_grad_(True)  # Freeze-D layers stay frozen (FreezableD)
        if cfg.freeze_d and not hasattr(self.D, "freeze_layers"):  # e.g. FastGAN: whole blocks, re-applied
            self.D.freeze_blocks(cfg.freeze_d)
        self.G.requires_grad_(False)
        with torch.no_grad(), self._autocast():
            fake = self._run_G(z, c_fake)
        self.opt_D.zero_grad(set_to_none=True)

        # Reals (+ lazy R1 in fp32 on the augmented reals, scaled by the interval).
        x = x.detach().requires_grad_(do_r1)
        x_aug = self._augment(x)
        with self._autocast(enabled=not do_r1):  # the R1 pass runs in fp32: squared gradients
            if self.d_aux:  # e.g. FastGAN's self-supervised reconstruction of the reals
                real_logits, aux = self.D_run(x_aug, c, return_aux=True)
            else:
                real_logits = self.D_run(x_aug, c)
        real_logits = real_logits.float()
        loss_real = d_loss_real(real_logits, kind=cfg.loss, label_smoothing=cfg.label_smoothing)
        total = loss_real
        if self.d_aux:
            total = total + aux.float()
            totals["loss_rec"] += aux.detach().float()
        if do_r1:
            r1 = r1_penalty(real_logits, x)
            total = total + r1 * (self.r1_gamma / 2) * cfg.r1_interval
            totals["loss_r1"] += r1.detach()
            totals["n_r1"] += 1
        total.backward()

        # Fakes.
        fake_aug = self._augment(fake.detach())
        with self._autocast():
            fake_logits = self.D_run(fake_aug, c_fake).float()
        loss_fake = d_loss_fake(fake_logits, kind=cfg.loss)
        loss_fake.backward()
        self._optimizer_step(self.D, self.opt_D, totals)

        real_logits, fake_logits = real_logits.detach(), fake_logits.detach()
        totals["loss_D"] += loss_real.detach() + loss_fake.detach()
        real_acc, fake_acc = d_accuracy(real_logits, fake_logits)  # tensors: no host sync per step
        totals["d_real_acc"] += real_acc
        totals["d_fake_acc"] += fake_acc
        totals["logit_real"] += real_logits.mean()
        totals["logit_fake"] += fake_logits.mean()
        totals["n_d"] += 1
        self.d_steps_done += 1
        if self.ada is not None:
            self.ada.accumulate(real_logits, c)
            if self.d_steps_done % cfg.ada_interval == 0:
                self.ada.update(self.augment_pipe, cfg.batch_size * cfg.ada_interval)

    def _g_step(self, totals: Totals) -> None:
        self.G.requires_grad_(True)
        self.D.requires_grad_(False)
        z, c = self._latents()  # fresh latents, as officially (not the D step's)
        ms = self.cfg.mode_seeking
        if ms > 0 and c is not None:  # pairs (i, i + n) of the same class
            n = len(c) // 2
            c = torch.cat([c[:n], c[:n], c[2 * n :]])
        with self._autocast():
            fake = self._run_G(z, c)
        fake_aug = self._augment(fake)  # float32, like the D step's
        with self._autocast():
            logits = self.D_run(fake_aug, c).float()
        loss = g_loss(logits, kind=self.cfg.loss)
        if ms > 0 and len(z) > 1:
            term = mode_seeking_loss(fake, z)
            loss = loss + ms * term
            totals["loss_ms"] += term.detach()
        self.opt_G.zero_grad(set_to_none=True)
        loss.backward()
        self._optimizer_step(self.G, self.opt_G, totals)
        totals["loss_G"] += loss.detach()
        totals["n_g"] += 1
        if self.pl_weight > 0 and self.g_steps_done % self.cfg.pl_interval == 0:
            self._g_pl_step(totals)
        self.g_steps_done += 1

    def _g_pl_step(self, totals: Totals) -> None:
        """Lazy path-length regularisation (StyleGAN2): its own G update every ``pl_interval`` G
        steps, on batch // pl_batch_shrink fresh latents, weighted by pl_weight * pl_interval."""
        cfg = self.cfg
        z, c = self._latents()
        n = max(1, len(z) // cfg.pl_batch_shrink)
        z, c = z[:n], (c[:n] if c is not None else None)
        with self._autocast():
            img, ws = self._run_G(z, c, return_ws=True)
        lengths = path_lengths(img, ws)
        mean = mean_over_ranks(lengths.detach().mean())  # one running mean on every rank
        self.pl_mean.copy_(self.pl_mean.lerp(mean, cfg.pl_decay))
        penalty = (lengths - self.pl_mean).square().mean()
        self.opt_G.zero_grad(set_to_none=True)
        (penalty * (self.pl_weight * cfg.pl_interval)).backward()
        self._optimizer_step(self.G, self.opt_G, totals)
        totals["loss_pl"] += penalty.detach()
        totals["n_pl"] += 1

    @torch.no_grad()
    def _update_ema(self) -> None:
        cfg = self.cfg
        ema_nimg = cfg.resolved_ema_kimg * 1000
        if cfg.ema_rampup is not None:
            ema_nimg = min(ema_nimg, self.cur_nimg * cfg.ema_rampup)
        beta = 0.5 ** (cfg.batch_size / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.lerp_(p, 1 - beta)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    # -- main loop ---------------------------------------------------------------
    def run(self, max_ticks: int | None = None) -> TrainResult:
        """Train to ``cfg.kimg`` (or on, see ``stopping.final_nimg``), or ``max_ticks`` ticks of this call."""
        total_nimg = stopping.final_nimg(self.cfg)
        writer = None
        if self.is_main:
            if self.cur_nimg == 0:
                save_png(self.run_dir / "reals.png", self.grid.reals(self.data_cpu))
                save_png(self.run_dir / "fakes_init.png", self.grid.render(self.G_ema, self.device))  # == G
            writer = tensorboard_writer(self.run_dir, self.cur_nimg // 1000, self._log)
        bar = self._progress_bar(max(int(self.cfg.kimg * 1000), self.cur_nimg))  # resumed past kimg
        self._t0 = time.time()
        self._last_snapshot = None
        ticks_run = 0
        done = self.cur_nimg >= total_nimg or self._time_is_up(True)  # a resumed run may have none left
        try:
            while not done:
                tick_start_nimg, tick_t0 = self.cur_nimg, time.time()
                totals = self._train_one_tick(total_nimg, bar)
                out_of_time = self.cur_nimg < total_nimg and self._time_is_up(all_ranks=True)
                done = self.cur_nimg >= total_nimg or out_of_time
                self.cur_tick += 1
                ticks_run += 1
                stats = tick_stats(
                    totals,
                    tick=self.cur_tick,
                    cur_nimg=self.cur_nimg,
                    tick_nimg=self.cur_nimg - tick_start_nimg,
                    tick_time=time.time() - tick_t0,
                    elapsed=self.elapsed(),
                    device=self.device,
                    pl_mean=self.pl_mean,
                    augment_pipe=self.augment_pipe,
                    ada=self.ada,
                )
                if self.cfg.transition is not None:
                    stats["cond_strength"] = self.cond_strength
                if out_of_time:
                    stats["stopped"] = "time limit"
                    with tqdm.external_write_mode():
                        self._log(stopping.time_limit_message(self.cfg, self.cur_nimg))
                self._end_tick(stats, done, writer)
                if not done:  # a run that may train on past kimg: the bar's end follows its pace
                    bar.total = stopping.projected_nimg(self.cfg, self.cur_nimg, self.elapsed())
                bar.set_postfix_str(f"{stats['img_per_s']:.0f} img/s, p={stats['aug_p']:.2f}", refresh=False)
                if max_ticks is not None and ticks_run >= max_ticks:
                    break
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        return self._result()

    def _progress_bar(self, total_nimg: int) -> tqdm:
        # The last batch may overshoot kimg (whole batches only): the bar's total is rounded up to it.
        # It counts images (integers: summed float kimg drifted past the total) and shows kimg.
        bar_total = math.ceil(total_nimg / self.cfg.batch_size) * self.cfg.batch_size
        return tqdm(
            total=bar_total,
            initial=self.cur_nimg,
            unit="kimg",
            unit_scale=0.001,
            disable=not (self.progress and self.is_main),
            dynamic_ncols=True,
            leave=False,
            bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} kimg [{elapsed}<{remaining}{postfix}]",
        )

    def _train_one_tick(self, total_nimg: int, bar: tqdm) -> Totals:
        """Steps until a tick's worth of images (or the run's end); their running totals."""
        cfg = self.cfg
        tick_end = self.cur_nimg + max(int(cfg.tick_kimg * 1000), 1)
        totals = zero_totals(self.device, aux_loss=self.d_aux)
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        while self.cur_nimg < tick_end and self.cur_nimg < total_nimg:
            self.step(totals)
            bar.update(cfg.batch_size)
            if self._time_is_up(all_ranks=False):  # the tick ends early; run() stops the training
                break
        return totals

    def _time_is_up(self, all_ranks: bool) -> bool:
        return stopping.time_is_up(self.cfg, self.elapsed(), self.world_size, self.device, all_ranks)

    def step(self, totals: Totals) -> None:
        """One iteration: ``d_steps`` D updates, a G update (with the lazy path-length step when
        due), then the EMA. Adds to ``totals`` (``stats.zero_totals``); the benchmarks call it too."""
        if self.cfg.transition is not None:  # never lowered (a resumed run with a raised kimg keeps it)
            strength = max(self._cond_strength, self.cfg.cond_strength_at(self.cur_nimg))
            if strength != self._cond_strength:
                self._set_cond_strength(strength)
        for _ in range(self.cfg.d_steps):
            self._d_step(totals)
        self._g_step(totals)
        self.cur_nimg += self.cfg.batch_size
        self._update_ema()

    def _end_tick(self, stats: dict, done: bool, writer) -> None:
        """Upkeep: stop on NaN, warn on collapse, then (rank 0) the stats line, the sample grid, a
        snapshot every ``snap`` ticks; then the tick callbacks."""
        if not all(math.isfinite(stats[k]) for k in ("loss_D", "loss_G")):
            self._diverged(stats)
        warning = check_collapse(self.stats_history, stats, self.cfg.collapse_window)
        if warning:
            stats["warning"] = warning
            self.warnings.append(warning)
        self.stats_history.append(stats)
        if self.is_main:
            append_jsonl(self.run_dir / "stats.jsonl", stats)
            with tqdm.external_write_mode():  # print above the progress bar, not through it
                self._log(format_stats(stats) + (f"\nWARNING: {warning}" if warning else ""))
            if writer is not None:
                write_tensorboard(writer, stats, self.cur_nimg)
            save_png(
                self.run_dir / f"fakes{ckpt.kimg_tag(self.cur_nimg)}.png",
                self.grid.render(self.G_ema, self.device),
            )
            if done or self.cur_tick % self.cfg.snap == 0:
                self._last_snapshot = ckpt.save_snapshot(self.run_dir, self.state_dict(), self.cur_nimg)
        for cb in self.callbacks:
            cb(TickInfo(self.cur_tick, self.cur_nimg, stats, self.run_dir, self.G_ema, done, self))

    def _diverged(self, stats: dict) -> None:
        """Record the NaN/Inf tick and stop; the snapshots written so far are kept."""
        found = lambda: ckpt.find_snapshot(self.run_dir)  # noqa: E731
        msg = stopping.diverged_message(stats, self.cur_nimg, self._last_snapshot, self.run_dir, found)
        if self.is_main:
            append_jsonl(self.run_dir / "stats.jsonl", dict(stats, error="diverged"))
        raise TrainingDivergedError(msg)

    def _result(self) -> TrainResult:
        snap = self._last_snapshot
        if snap is None:
            try:
                snap = ckpt.find_snapshot(self.run_dir)
            except CheckpointError:  # no snapshot yet (e.g. max_ticks below snap)
                snap = None
        return TrainResult(
            self.run_dir,
            self.cfg,
            self.cur_nimg,
            snap,
            self.class_names,
            read_jsonl(self.run_dir / "stats.jsonl") if self.is_main else self.stats_history,
            self.warnings,
        )
