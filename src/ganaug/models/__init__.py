"""Network builders: a NetworkConfig in, a G or D out (see docs/DESIGN.md, "Network contract")."""

from __future__ import annotations

from torch import nn

from ganaug.config import NetworkConfig


def build_generator(net_cfg: NetworkConfig) -> nn.Module:
    """G(z, c=None, truncation_psi=1.0, noise_mode="random") -> [B, C, R, R]."""
    if net_cfg.arch == "dcgan":
        from ganaug.models.dcgan import DCGANGenerator

        return DCGANGenerator(
            z_dim=net_cfg.z_dim,
            img_resolution=net_cfg.resolution,
            img_channels=net_cfg.channels,
            num_classes=net_cfg.num_classes,
            ngf=net_cfg.g_channels,
            batch_norm=net_cfg.g_batch_norm,
        )
    if net_cfg.arch == "stylegan2":
        from ganaug.models.stylegan2 import Generator

        return Generator(
            z_dim=net_cfg.z_dim,
            w_dim=net_cfg.w_dim,
            img_resolution=net_cfg.resolution,
            img_channels=net_cfg.channels,
            num_classes=net_cfg.num_classes,
            mapping_layers=net_cfg.mapping_layers,
            channel_base=net_cfg.channel_base,
            channel_max=net_cfg.channel_max,
            slope=net_cfg.leaky_slope,
            num_fp16_res=net_cfg.num_fp16_res,
            conv_clamp=net_cfg.conv_clamp,
        )
    if net_cfg.arch == "fastgan":
        from ganaug.models.fastgan import FastGANGenerator

        return FastGANGenerator(
            z_dim=net_cfg.z_dim,
            img_resolution=net_cfg.resolution,
            img_channels=net_cfg.channels,
            num_classes=net_cfg.num_classes,
            ngf=net_cfg.g_channels,
        )
    raise ValueError(f"unknown architecture {net_cfg.arch!r}")


def build_discriminator(net_cfg: NetworkConfig) -> nn.Module:
    """D(img, c=None) -> logits [B] (float32); D.freeze_layers(n) (Freeze-D), D.freeze_blocks(n)."""
    if net_cfg.arch == "dcgan":
        from ganaug.models.dcgan import DCGANDiscriminator

        return DCGANDiscriminator(
            img_resolution=net_cfg.resolution,
            img_channels=net_cfg.channels,
            num_classes=net_cfg.num_classes,
            ndf=net_cfg.d_channels,
            batch_norm=net_cfg.d_batch_norm,
            spectral=net_cfg.d_spectral_norm,
            dropout=net_cfg.d_dropout,
            slope=net_cfg.leaky_slope,
        )
    if net_cfg.arch == "stylegan2":
        from ganaug.models.stylegan2 import Discriminator

        return Discriminator(
            img_resolution=net_cfg.resolution,
            img_channels=net_cfg.channels,
            num_classes=net_cfg.num_classes,
            channel_base=net_cfg.channel_base,
            channel_max=net_cfg.channel_max,
            mbstd_group=net_cfg.mbstd_group,
            mapping_layers=net_cfg.d_mapping_layers or net_cfg.mapping_layers,
            slope=net_cfg.leaky_slope,
            num_fp16_res=net_cfg.num_fp16_res,
            conv_clamp=net_cfg.conv_clamp,
        )
    if net_cfg.arch == "fastgan":
        from ganaug.models.fastgan import FastGANDiscriminator

        return FastGANDiscriminator(
            img_resolution=net_cfg.resolution,
            img_channels=net_cfg.channels,
            num_classes=net_cfg.num_classes,
            ndf=net_cfg.d_channels,
        )
    raise ValueError(f"unknown architecture {net_cfg.arch!r}")


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (only those with requires_grad when `trainable_only`)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


__all__ = ["build_discriminator", "build_generator", "count_parameters"]
