"""What G learns from and what each global batch is made of: the training images at the GAN's size
(:func:`prepare_training_images`), then which real images, latents and labels each batch takes.

All of it is drawn from one generator seeded identically on every rank, so every process
agrees on the global batch and takes its own slice of it. Real images come in epochs (a fresh
random permutation once one is used up). With class-balanced sampling (conditional models
with every class present) each class is drawn equally often, a random image within it: rare
classes are repeated, and what D sees of them is varied by the augmentation.
"""

from __future__ import annotations

from typing import Any

import torch

from ganaug.augment.classic import mirror, multiply
from ganaug.config import TrainConfig
from ganaug.data.imageset import ImageSet
from ganaug.data.preprocess import pad_array, resize_imageset


def prepare_training_images(train: ImageSet, cfg: TrainConfig) -> ImageSet:
    """The images G learns: at the GAN's size and channels, mirrored and multiplied if asked."""
    net = cfg.network
    if cfg.crop_to:  # padded to the GAN's size; generated images are cropped back (config.fit)
        data = resize_imageset(train, train.resolution, channels=net.channels)
        data = ImageSet(
            pad_array(data.images, net.resolution), data.labels, data.class_names, data.paths, data.hashes
        )
    else:
        data = resize_imageset(train, net.resolution, channels=net.channels)
    if cfg.mirror:
        data = mirror(data)
    if cfg.multiply > 1:
        data = multiply(data, cfg.multiply, seed=cfg.seed)
    return data


class BatchSampler:
    """Global batches of real-image indices and of fake latents (``z``, labels)."""

    def __init__(self, labels: torch.Tensor, num_classes: int, seed: int, *, balanced: bool):
        self.gen = torch.Generator().manual_seed(seed)
        self.labels = labels.cpu()
        self.num_images = len(labels)
        self.perm = torch.randperm(self.num_images, generator=self.gen)
        self.perm_pos = 0
        self.class_count = torch.bincount(self.labels, minlength=num_classes)
        self.balanced = bool(balanced and (self.class_count > 0).all())
        self.class_sorted = torch.argsort(self.labels, stable=True)
        self.class_offset = torch.cumsum(self.class_count, 0) - self.class_count

    def real_indices(self, batch_size: int) -> torch.Tensor:
        """Indices of the next global batch of real images."""
        out, need = [], batch_size
        while need > 0:
            if self.perm_pos >= self.num_images:
                self.perm = torch.randperm(self.num_images, generator=self.gen)
                self.perm_pos = 0
            take = min(need, self.num_images - self.perm_pos)
            out.append(self.perm[self.perm_pos : self.perm_pos + take])
            self.perm_pos += take
            need -= take
        idx = torch.cat(out)
        if self.balanced:
            cls = torch.randint(len(self.class_count), (len(idx),), generator=self.gen)
            within = (torch.rand(len(idx), generator=self.gen) * self.class_count[cls]).long()
            idx = self.class_sorted[self.class_offset[cls] + within]
        return idx

    def latents(
        self, batch_size: int, z_dim: int, conditional: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """z and labels of the next global batch of fakes. The fake class mix matches the real one
        D sees (uniform when sampling is balanced)."""
        z = torch.randn(batch_size, z_dim, generator=self.gen)
        if not conditional:
            return z, None
        if self.balanced:
            return z, torch.randint(len(self.class_count), (batch_size,), generator=self.gen)
        return z, self.labels[torch.randint(self.num_images, (batch_size,), generator=self.gen)]

    def state_dict(self) -> dict[str, Any]:
        return {"perm": self.perm.clone(), "perm_pos": self.perm_pos, "gen_state": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["perm"]) == self.num_images:  # else the data changed size: a fresh epoch order
            self.perm = state["perm"].clone()
            self.perm_pos = int(state["perm_pos"])
        self.gen.set_state(state["gen_state"])
