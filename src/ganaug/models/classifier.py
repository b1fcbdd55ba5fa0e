"""Image classifiers used by the downstream benchmark and by the domain feature network.

Every classifier here has the same shape::

    x in [-1, 1], N x C x H x W (the data's channels and size)
      -> input adapter (resize, gray -> RGB, ImageNet normalisation where the backbone wants it)
      -> backbone            -> [N, backbone_dim]
      -> head (Linear, BatchNorm1d, LeakyReLU, Dropout) x len(hidden)  -> [N, embed_dim]   "penultimate"
      -> fc (Linear)          -> logits [N, num_classes]

so callers never preprocess by hand: ``model(x)`` takes the GAN convention directly (a generator's
output can be classified or embedded as is). ``model.config`` rebuilds the network without
downloading or reading ImageNet weights: see :func:`save_classifier` / :func:`load_classifier`.

ResNets are built with ``weights=None`` (never a download) and ImageNet weights are read from a
local file: an explicit path, or torch hub's cache folder.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganaug.constants import CLASSIFIERS as ARCHS
from ganaug.errors import CheckpointError, UserError
from ganaug.utils import atomic_torch_save, load_tensors

# File names torchvision uses for its ImageNet weights (torch hub cache, "checkpoints/").
HUB_WEIGHT_FILES: dict[str, tuple[str, ...]] = {
    "resnet18": ("resnet18-f37072fd.pth",),
    "resnet50": ("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth"),  # IMAGENET1K_V1, IMAGENET1K_V2
}
HUB_WEIGHT_URLS = {
    "resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RANDOM_INIT = ("none", "random")  # pretrained_weights values meaning "random initialisation"


# ----------------------------------------------------------------------------
# Building blocks


class InputAdapter(nn.Module):
    """[-1, 1] images at the data's size/channels -> what the backbone expects."""

    def __init__(self, in_channels: int, out_channels: int, image_size: int | None, imagenet: bool):
        super().__init__()
        if in_channels not in (1, 3) or out_channels not in (1, 3):
            raise UserError(f"classifier inputs must have 1 or 3 channels, got {in_channels}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.image_size = image_size
        self.imagenet = imagenet
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _B, C, H, W = x.shape
        if C != self.in_channels:
            raise ValueError(f"classifier expects {self.in_channels} channels, got {C}")
        s = self.image_size
        if s is not None and (H, W) != (s, s):
            # Antialias only when shrinking; bilinear is enough when growing small images.
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=s < max(H, W))
        if self.out_channels == 3 and C == 1:
            x = x.expand(-1, 3, -1, -1)
        elif self.out_channels == 1 and C == 3:
            x = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
        if self.imagenet:
            x = ((x + 1) * 0.5 - self.mean) / self.std
        return x


class SmallCNN(nn.Module):
    """Three conv stages of ``depth`` x (3x3 conv + BN + ReLU), global average pool.

    The first stage's first conv has stride 2 and the others end with a 2x2 max-pool, so a
    28 px image is seen at 14, 7 and 3 px: ~2 M multiply-adds per image, a few seconds per
    20-epoch run on ~700 images on one CPU core. Any input size >= 8 px works (global pooling).
    """

    def __init__(self, in_channels: int, width: int = 16, depth: int = 1):
        super().__init__()
        chans = [width, width * 2, width * 4]
        layers: list[nn.Module] = []
        cin = in_channels
        for s, cout in enumerate(chans):
            for d in range(depth):
                stride = 2 if (s == 0 and d == 0) else 1
                layers += [
                    nn.Conv2d(cin, cout, 3, stride, padding=1, bias=False),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True),
                ]
                cin = cout
            if s > 0:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.out_dim = chans[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)  # [B, out_dim]


def _dense_head(in_dim: int, hidden: Sequence[int], dropout: float, slope: float = 0.2) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(in_dim, h), nn.BatchNorm1d(h), nn.LeakyReLU(slope, inplace=True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        in_dim = h
    return nn.Sequential(*layers)


class Classifier(nn.Module):
    """adapter -> backbone -> dense head -> fc. ``forward(x)`` takes [-1, 1] images and returns logits."""

    def __init__(self, config: dict[str, Any], adapter: InputAdapter, backbone: nn.Module, backbone_dim: int):
        super().__init__()
        self.config = dict(config)
        self.arch: str = config["arch"]
        self.num_classes: int = config["num_classes"]
        self.in_channels: int = config["in_channels"]
        self.class_names: list[str] = list(config.get("class_names") or [])
        self.frozen: bool = bool(config.get("frozen", False))
        self.adapter = adapter
        self.backbone = backbone
        self.backbone_dim = backbone_dim
        hidden = list(config.get("hidden") or [])
        self.head = _dense_head(backbone_dim, hidden, float(config.get("dropout", 0.0)))
        self.embed_dim = hidden[-1] if hidden else backbone_dim
        self.fc = nn.Linear(self.embed_dim, self.num_classes)
        if self.frozen:
            for p in self.backbone.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> Classifier:
        super().train(mode)
        if self.frozen:  # a frozen backbone keeps its batch-norm statistics
            self.backbone.eval()
        return self

    def backbone_features(self, x: torch.Tensor) -> torch.Tensor:
        # channels_last: ~1.5x faster convolutions on CPU (and tensor cores on GPU).
        x = self.adapter(x).contiguous(memory_format=torch.channels_last)
        return self.backbone(x)  # [B, backbone_dim]

    def head_from_backbone(self, f: torch.Tensor) -> torch.Tensor:
        return self.fc(self.head(f))  # logits [B, K]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features (the input of the last linear layer), [B, embed_dim]."""
        return self.head(self.backbone_features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


# ----------------------------------------------------------------------------
# ResNets and their local ImageNet weights


def find_imagenet_weights(arch: str, pretrained_weights: str | os.PathLike | None = None) -> Path:
    """Path of the ImageNet state dict for ``arch``: the given file, or torch hub's cache.

    Raises :class:`UserError` naming the file to put where when nothing is found.
    """
    if pretrained_weights is not None:
        p = Path(pretrained_weights).expanduser()
        if not p.is_file():
            raise UserError(f"pretrained weights file not found: {p}")
        return p
    ckpt_dir = Path(torch.hub.get_dir()) / "checkpoints"
    for name in HUB_WEIGHT_FILES[arch]:
        if (ckpt_dir / name).is_file():
            return ckpt_dir / name
    names = " or ".join(HUB_WEIGHT_FILES[arch])
    raise UserError(
        f"ImageNet weights for {arch} not found (nothing is downloaded). Put {names} in {ckpt_dir}/ "
        f"(download it on a connected machine from {HUB_WEIGHT_URLS[arch]}), or pass its path with "
        f"pretrained_weights=PATH, or use pretrained_weights='none' for random initialisation."
    )


def _load_resnet_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        sd = load_tensors(path)
    except CheckpointError:
        raise
    except Exception as e:  # corrupt file...
        raise UserError(f"cannot read pretrained weights {path}: {e}") from e
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise UserError(f"{path} does not hold a state dict")
    out = {}
    for k, v in sd.items():
        k = k.removeprefix("module.")
        if not k.startswith("fc."):  # ImageNet's 1000-way layer is replaced by our head
            out[k] = v
    return out


def _resnet_backbone(arch: str, weights_path: Path | None) -> tuple[nn.Module, int]:
    import torchvision  # only the ResNets need it: seconds to import, in every benchmark worker too

    net = getattr(torchvision.models, arch)(weights=None)  # never downloads
    dim = net.fc.in_features
    net.fc = nn.Identity()
    if weights_path is not None:
        missing, unexpected = net.load_state_dict(_load_resnet_state(weights_path), strict=False)
        if missing or unexpected:
            raise UserError(
                f"{weights_path} does not match torchvision's {arch}: "
                f"missing {list(missing)[:4]}, unexpected {list(unexpected)[:4]}"
            )
    return net, dim


# ----------------------------------------------------------------------------
# Public builders


def build_classifier(
    arch: str,
    num_classes: int,
    in_channels: int,
    *,
    image_size: int
    | None = None,  # resize inputs to this square size; None: smallcnn keeps the data size, ResNets 224
    pretrained_weights: str
    | os.PathLike
    | None = None,  # ResNets: path, None (hub cache) or "none" (random init)
    finetune: bool = False,  # ResNets: train the whole network instead of a frozen backbone + head
    hidden: Sequence[int] | None = None,  # dense head widths; None: (128,) smallcnn, (256,) ResNets
    dropout: float | None = None,  # dropout in the head; None: 0.2 smallcnn, 0.3 ResNets
    width: int = 16,  # smallcnn: channels of the first stage
    depth: int = 1,  # smallcnn: convs per stage
    class_names: Sequence[str] | None = None,
) -> Classifier:
    """A :class:`Classifier`; ResNet ImageNet weights come from a local file only."""
    if arch not in ARCHS:
        raise UserError(f"unknown classifier {arch!r}; choose from {', '.join(ARCHS)}")
    if num_classes < 2:
        raise UserError(f"a classifier needs at least 2 classes, got {num_classes}")
    if image_size is not None and image_size < 8:
        raise UserError(f"image_size must be >= 8, got {image_size}")
    if arch == "smallcnn":
        hidden = (128,) if hidden is None else hidden
        dropout = 0.2 if dropout is None else dropout
        adapter = InputAdapter(in_channels, in_channels, image_size, imagenet=False)
        backbone: nn.Module = SmallCNN(in_channels, width, depth)
        dim = backbone.out_dim
        frozen, pretrained = False, None
    else:
        hidden = (256,) if hidden is None else hidden
        dropout = 0.3 if dropout is None else dropout
        image_size = 224 if image_size is None else image_size
        random_init = isinstance(pretrained_weights, str) and pretrained_weights.lower() in RANDOM_INIT
        random_init = random_init or pretrained_weights is False
        weights_path = None if random_init else find_imagenet_weights(arch, pretrained_weights)
        adapter = InputAdapter(in_channels, 3, image_size, imagenet=True)
        backbone, dim = _resnet_backbone(arch, weights_path)
        # A randomly initialised backbone is useless frozen: train it all.
        frozen = not finetune and not random_init
        pretrained = str(weights_path) if weights_path else "none"
    config = {
        "arch": arch,
        "num_classes": int(num_classes),
        "in_channels": int(in_channels),
        "image_size": image_size,
        "hidden": [int(h) for h in hidden],
        "dropout": float(dropout),
        "width": int(width),
        "depth": int(depth),
        "frozen": frozen,
        "pretrained": pretrained,
        "class_names": list(class_names or []),
    }
    return Classifier(config, adapter, backbone, dim).to(memory_format=torch.channels_last)


def classifier_from_config(config: dict[str, Any]) -> Classifier:
    """Rebuild a classifier's architecture from ``model.config`` (random weights, no weight file read)."""
    c = dict(config)
    model = build_classifier(
        c["arch"],
        c["num_classes"],
        c["in_channels"],
        image_size=c.get("image_size"),
        pretrained_weights="none",
        finetune=True,
        hidden=c.get("hidden"),
        dropout=c.get("dropout"),
        width=c.get("width", 16),
        depth=c.get("depth", 1),
        class_names=c.get("class_names"),
    )
    # Restore the frozen flag (build_classifier turns it off for random init).
    model.config = c
    model.frozen = bool(c.get("frozen", False))
    for p in model.backbone.parameters():
        p.requires_grad_(not model.frozen)
    return model


def save_classifier(model: Classifier, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> None:
    """Atomic plain-dict checkpoint: ``{"config", "state_dict", **extra}``."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_torch_save({"config": model.config, "state_dict": state, **(extra or {})}, path)


def load_classifier(path: str | os.PathLike, device: str | torch.device = "cpu") -> Classifier:
    """Inverse of :func:`save_classifier`; the model is returned in eval mode."""
    try:
        ckpt = load_tensors(path)
        model = classifier_from_config(ckpt["config"])
        model.load_state_dict(ckpt["state_dict"])
    except FileNotFoundError:
        raise CheckpointError(f"classifier checkpoint not found: {path}") from None
    except (KeyError, RuntimeError, TypeError) as e:
        raise CheckpointError(f"cannot load classifier checkpoint {path}: {e}") from e
    return model.to(device).eval()
