"""Import official StyleGAN2-ADA snapshots (``network-snapshot-*.pkl``) without running their code.

NVIDIA's stylegan2-ada-pytorch (and the stylegan3 repository's StyleGAN2) save snapshots as
Python pickles of their networks. Each network class is wrapped by ``torch_utils.persistence``,
which pickles an object as a call ``_reconstruct_persistent_obj(meta)`` where ``meta`` holds the
*source code of the whole module* (``module_src``), the ``class_name`` and the object's
``state`` (its ``__dict__``: ``_parameters``, ``_buffers``, ``_modules``, ``_init_kwargs``...).
Loading such a file the usual way (``pickle.load``, ``legacy.load_network_pkl``) executes that
source: a snapshot downloaded from the web can run anything.

This module reads them with :class:`SafeUnpickler`, a :class:`pickle.Unpickler` whose
``find_class`` allows only

* ``torch_utils.persistence._reconstruct_persistent_obj`` -> a :class:`Record` that keeps the
  class name, constructor arguments and state as data (``module_src`` is kept as text and never
  compiled or executed);
* tensor rebuilding: ``torch._utils._rebuild_tensor(_v2)``, ``_rebuild_parameter(_with_state)``
  and ``torch.storage._load_from_bytes`` (whose payload is read with ``torch.load(...,
  weights_only=True)``), ``torch.Size``, torch dtypes;
* plain containers: ``collections.OrderedDict``, ``dnnlib.util.EasyDict`` (as a plain dict),
  ``builtins.set/frozenset``; numpy scalars and dtypes (not object dtype).

Anything else (``os.system``, ``builtins.eval``, an unknown class, a TensorFlow-era pickle,
a persistent id) stops the import with :class:`ganaug.errors.CheckpointError` before it is
called. Then the records' constructor arguments become a :class:`NetworkConfig` and their
parameters/buffers are renamed to ganaug's modules (``models/stylegan2.py``, numerically the
same networks), loaded strictly, and written as an ordinary ganaug snapshot.

Name mapping (official -> ganaug), ``R`` the resolution, ``i`` the mapping layer, ``k = log2(res) - 2``:

==============================================  ==============================================
G / G_ema: ``mapping.fc{i}.weight|bias``        ``mapping.layers.{i}.weight|bias``
``mapping.embed.*``, ``mapping.w_avg``          same names
``synthesis.b{res}.const``                      ``synthesis.blocks.{k}.const``
``synthesis.b{res}.conv0|conv1.*``              ``synthesis.blocks.{k}.conv0|conv1.*`` (affine, weight,
                                                bias, noise_strength, noise_const: same names)
``synthesis.b{res}.torgb.*``                    ``synthesis.blocks.{k}.torgb.*``
``*.resample_filter``                           dropped (checked to be the [1,3,3,1] filter)
(none)                                          ``mapping.w_avg_class`` (conditional: per-class
                                                average w, estimated from 4096 z per class)
D: ``b{res}.fromrgb|conv0|conv1|skip.*``        ``blocks.{log2(R) - log2(res)}.*``
``b4.conv|fc|out.*``                            ``epilogue.conv|fc|out.*``
``mapping.fc{i}.*``, ``mapping.embed.*``        ``mapping.layers.{i}.*``, ``mapping.embed.*``
augment_pipe: buffer ``p``                      snapshot ``augment_pipe["p"]``
==============================================  ==============================================

Constructor arguments: ``z_dim, w_dim, c_dim -> num_classes, img_resolution, img_channels,
mapping_kwargs.num_layers -> mapping_layers`` (D's ``mapping_kwargs.num_layers`` ->
``d_mapping_layers``), ``channel_base, channel_max``, D's ``epilogue_kwargs.mbstd_group_size ->
mbstd_group``; ``num_fp16_res`` and ``conv_clamp`` go to the ganaug config where it has such
fields. Class-conditional G takes one-hot ``c`` officially and class indices in ganaug.
Supported: the default architectures (G "skip", D "resnet"), lrelu, the [1,3,3,1] filter, 1 or 3
channels; anything else is refused with the reason. A mapping ``lr_multiplier`` other than 0.01
is absorbed into the stored weights (same outputs). Official layers clamp activations to
``conv_clamp`` (256) in float32 too; ganaug clamps only in float16 — outputs differ only where an
activation exceeds 256.
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import re
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganaug.augment.ada import AugmentPipe
from ganaug.config import NetworkConfig, make_config
from ganaug.errors import CheckpointError
from ganaug.models import build_discriminator, build_generator

PERSISTENCE = ("torch_utils.persistence", "_reconstruct_persistent_obj")
_FIR = [1, 3, 3, 1]


# ----------------------------------------------------------------------------
# The restricted unpickler.


class _Refused(Exception):
    """Raised inside the unpickler; turned into a CheckpointError with the file name."""


@dataclass
class Record:
    """A ``torch_utils.persistence`` object, as data: nothing of it is ever executed."""

    class_name: str
    state: dict
    module_src: str = ""  # the pickled source text, kept only to report its size
    version: Any = None

    @property
    def init_kwargs(self) -> dict:
        return dict(self.state.get("_init_kwargs") or {})

    @property
    def init_args(self) -> tuple:
        return tuple(self.state.get("_init_args") or ())

    @property
    def modules(self) -> dict[str, Record | None]:
        return dict(self.state.get("_modules") or {})

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Every parameter and buffer of this module and its submodules, by dotted name."""
        out: dict[str, torch.Tensor] = {}
        for group in ("_parameters", "_buffers"):
            for name, t in (self.state.get(group) or {}).items():
                if t is not None:
                    if not isinstance(t, torch.Tensor):
                        raise _Refused(f"{prefix}{name} is a {type(t).__name__}, not a tensor")
                    out[prefix + name] = t.detach().clone()
        for name, sub in self.modules.items():
            if sub is None:
                continue
            if not isinstance(sub, Record):
                raise _Refused(f"submodule {prefix}{name} is not a persistent network record")
            out.update(sub.tensors(f"{prefix}{name}."))
        return out


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a plain dict (no code from the snapshot)."""


def _record(meta: Any) -> Record:
    if (
        not isinstance(meta, dict)
        or meta.get("type") != "class"
        or not isinstance(meta.get("class_name"), str)
    ):
        raise _Refused("a persistence record without the expected fields (type 'class', class_name, state)")
    state = meta.get("state") or {}
    if not isinstance(state, dict):
        raise _Refused(f"the state of {meta['class_name']} is not a dict")
    src = meta.get("module_src")
    return Record(meta["class_name"], dict(state), src if isinstance(src, str) else "", meta.get("version"))


def _load_storage(data: Any):
    if not isinstance(data, (bytes, bytearray)):
        raise _Refused("a tensor storage that is not raw bytes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage deprecation
        try:
            return torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any failure is a refusal, reported
            raise _Refused(f"a tensor storage that torch.load(weights_only=True) refuses ({e})") from None


def _storage_ok(storage: Any) -> None:
    if not isinstance(storage, (torch.storage.TypedStorage, torch.storage.UntypedStorage)):
        raise _Refused(f"a tensor built from a {type(storage).__name__}, not a storage")


def _rebuild_tensor(storage, offset, size, stride, *rest):
    _storage_ok(storage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch._utils._rebuild_tensor(storage, int(offset), tuple(size), tuple(stride))


def _rebuild_tensor_v2(
    storage, offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None
):
    # Hooks and metadata are dropped: only the values matter here.
    return _rebuild_tensor(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, torch.Tensor):
        raise _Refused("a parameter that is not a tensor")
    return data  # a plain tensor: what is a parameter and what a buffer is known from the record


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, (bytes, bytearray)):
        raise _Refused("a numpy scalar other than a plain number")
    return np.frombuffer(bytes(data), dtype=dtype, count=1)[0]


def _numpy_dtype(name, align=False, copy=False):
    if not isinstance(name, str) or not re.fullmatch(r"[biufc]\d{1,2}|bool|[?]", name):
        raise _Refused(f"numpy dtype {name!r}")
    return np.dtype(name)


_ALLOWED: dict[tuple[str, str], Any] = {
    PERSISTENCE: _record,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): _numpy_dtype,
}


class SafeUnpickler(pickle.Unpickler):
    """Rebuilds tensors, plain containers and persistence records; refuses everything else."""

    def find_class(self, module: str, name: str) -> Any:
        fn = _ALLOWED.get((module, name))
        if fn is not None:
            return fn
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if module.startswith("dnnlib.tflib"):
            raise _Refused(
                "a TensorFlow-era StyleGAN pickle (dnnlib.tflib); only the PyTorch snapshots of "
                "stylegan2-ada-pytorch / stylegan3 are supported"
            )
        raise _Refused(f"it asks to call {module}.{name}, which a network snapshot never needs")

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("it uses persistent ids (not a plain pickle)")


def read_pickle(path: str | Path) -> dict[str, Any]:
    """The top-level dict of an official snapshot with networks as :class:`Record` s. Runs nothing."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist")
    try:
        with open(path, "rb") as f:
            data = SafeUnpickler(f).load()
    except _Refused as e:
        raise CheckpointError(f"refused to import {path}: {e}. Nothing from the file was run.") from None
    except Exception as e:  # noqa: BLE001 - truncated file, not a pickle...
        raise CheckpointError(
            f"{path} is not a readable StyleGAN2-ADA snapshot ({type(e).__name__}: {e})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("G_ema"), Record):
        raise CheckpointError(f"{path} is a pickle but not a StyleGAN2-ADA snapshot (no G_ema network in it)")
    return data


def is_pickle(path: str | Path) -> bool:
    """A plain pickle (an official snapshot) rather than a ganaug snapshot (a torch zip file)?"""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError:
        return False
    return len(head) == 2 and head[0] == 0x80 and head[1] >= 2


# ----------------------------------------------------------------------------
# Records -> NetworkConfig.

_G_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs")
_D_ARGS = (
    "c_dim",
    "img_resolution",
    "img_channels",
    "architecture",
    "channel_base",
    "channel_max",
    "num_fp16_res",
    "conv_clamp",
    "cmap_dim",
    "block_kwargs",
    "mapping_kwargs",
    "epilogue_kwargs",
)


def _kwargs(rec: Record, names: tuple[str, ...]) -> dict[str, Any]:
    kw = dict(zip(names, rec.init_args))
    kw.update(rec.init_kwargs)
    return kw


def _unsupported(what: str) -> CheckpointError:
    return CheckpointError(
        f"this snapshot uses {what}, which ganaug's StyleGAN2 does not implement; "
        "only the default StyleGAN2-ADA configurations can be imported"
    )


@dataclass
class Imported:
    """What :func:`convert` makes of an official snapshot."""

    network: NetworkConfig
    G_ema: dict[str, torch.Tensor]
    G: dict[str, torch.Tensor]
    D: dict[str, torch.Tensor] | None
    augment_p: float | None
    notes: list[str] = field(default_factory=list)


def network_config(data: dict[str, Any]) -> tuple[NetworkConfig, dict[str, float]]:
    """The ganaug NetworkConfig of an official snapshot's G_ema (and D), and G's mapping lr multiplier."""
    g = data["G_ema"]
    if g.class_name != "Generator":
        raise _unsupported(f"a generator class {g.class_name!r}")
    synth = g.modules.get("synthesis")
    if not isinstance(synth, Record) or "b4" not in synth.modules:
        raise CheckpointError(
            "this generator is not a StyleGAN2 generator (StyleGAN3's alias-free generator, "
            "or another network): only StyleGAN2 snapshots can be imported"
        )
    kw = _kwargs(g, _G_ARGS)
    mk, sk = dict(kw.get("mapping_kwargs") or {}), dict(kw.get("synthesis_kwargs") or {})
    res, ch = int(kw["img_resolution"]), int(kw["img_channels"])
    if ch not in (1, 3):
        raise CheckpointError(f"the generator makes {ch}-channel images; ganaug supports 1 or 3 channels")
    if sk.get("architecture", "skip") != "skip":
        raise _unsupported(f"a {sk['architecture']!r} generator architecture")
    if list(sk.get("resample_filter", _FIR)) != _FIR:
        raise _unsupported(f"the resampling filter {sk['resample_filter']}")
    if mk.get("activation", "lrelu") != "lrelu" or sk.get("activation", "lrelu") != "lrelu":
        raise _unsupported("an activation other than lrelu")
    w_dim = int(kw["w_dim"])
    for key in ("embed_features", "layer_features"):
        if mk.get(key) not in (None, w_dim):
            raise _unsupported(f"mapping {key}={mk[key]}")
    values: dict[str, Any] = dict(
        arch="stylegan2",
        resolution=res,
        channels=ch,
        num_classes=int(kw.get("c_dim") or 0),
        z_dim=int(kw["z_dim"]),
        w_dim=w_dim,
        mapping_layers=int(mk.get("num_layers", 8)),
        channel_base=int(sk.get("channel_base", 32768)),
        channel_max=int(sk.get("channel_max", 512)),
    )
    optional = {"num_fp16_res": sk.get("num_fp16_res", 0), "conv_clamp": sk.get("conv_clamp")}
    d = data.get("D")
    if isinstance(d, Record):
        dk = _kwargs(d, _D_ARGS)
        if (
            d.class_name != "Discriminator"
            or int(dk.get("img_resolution", -1)) != res
            or int(dk.get("img_channels", -1)) != ch
        ):
            raise CheckpointError("the snapshot's D does not match its G (class, resolution or channels)")
        if dk.get("architecture", "resnet") != "resnet":
            raise _unsupported(f"a {dk['architecture']!r} discriminator architecture")
        if (int(dk.get("channel_base", 32768)), int(dk.get("channel_max", 512))) != (
            values["channel_base"],
            values["channel_max"],
        ):
            raise _unsupported("different channel_base/channel_max in G and D")
        ek, bk, dmk = (dict(dk.get(k) or {}) for k in ("epilogue_kwargs", "block_kwargs", "mapping_kwargs"))
        if int(ek.get("mbstd_num_channels", 1)) != 1:
            raise _unsupported(f"mbstd_num_channels={ek['mbstd_num_channels']}")
        group = ek.get("mbstd_group_size", 4)
        if group is None:
            raise _unsupported("a minibatch-stddev group of the whole batch (mbstd_group_size=None)")
        values["mbstd_group"] = int(group)
        if list(bk.get("resample_filter", _FIR)) != _FIR or bk.get("activation", "lrelu") != "lrelu":
            raise _unsupported("a non-default D block (filter or activation)")
        c4 = min(values["channel_base"] // 4, values["channel_max"])
        if values["num_classes"] and dk.get("cmap_dim") not in (None, c4):
            raise _unsupported(f"cmap_dim={dk['cmap_dim']}")
        if values["num_classes"]:
            values["d_mapping_layers"] = int(dmk.get("num_layers", 8))
        optional.update({"d_num_fp16_res": dk.get("num_fp16_res", 0), "d_conv_clamp": dk.get("conv_clamp")})
    known = {f.name for f in fields(NetworkConfig)}
    if "d_mapping_layers" in values and values["d_mapping_layers"] == values["mapping_layers"]:
        values.pop("d_mapping_layers")
    # Per-block mixed precision settings only where this ganaug version has such config fields.
    values.update({k: v for k, v in optional.items() if k in known})
    missing = sorted(set(values) - known)
    if missing:
        raise _unsupported(f"{', '.join(missing)} (no such ganaug setting)")
    lr = {"mapping": float(mk.get("lr_multiplier", 0.01))}
    return NetworkConfig(**values), lr


# ----------------------------------------------------------------------------
# Names.

_FC = re.compile(r"^mapping\.fc(\d+)\.(.+)$")
_SB = re.compile(r"^synthesis\.b(\d+)\.(.+)$")
_DB = re.compile(r"^b(\d+)\.(.+)$")


def _check_filter(name: str, t: torch.Tensor) -> None:
    f = torch.tensor(_FIR, dtype=torch.float32)
    f = torch.outer(f, f) / torch.outer(f, f).sum()
    if t.shape != f.shape or not torch.allclose(t.float(), f, atol=1e-6):
        raise _unsupported(f"a resampling filter other than [1,3,3,1] ({name})")


def _rename(official: dict[str, torch.Tensor], blocks) -> dict[str, torch.Tensor]:
    """Drop the (checked) filters, rename mapping layers, and block names through ``blocks(name)``."""
    out = {}
    for name, t in official.items():
        if name.endswith("resample_filter"):
            _check_filter(name, t)
            continue
        m = _FC.match(name)
        out[f"mapping.layers.{m[1]}.{m[2]}" if m else blocks(name)] = t
    return out


def generator_names(official: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """G / G_ema tensors renamed from the official modules to ganaug's."""

    def block(name: str) -> str:
        m = _SB.match(name)
        return f"synthesis.blocks.{int(math.log2(int(m[1]))) - 2}.{m[2]}" if m else name

    return _rename(official, block)


def discriminator_names(official: dict[str, torch.Tensor], resolution: int) -> dict[str, torch.Tensor]:
    """D tensors renamed from the official modules to ganaug's."""
    top = int(math.log2(resolution))

    def block(name: str) -> str:
        m = _DB.match(name)
        if not m:
            return name
        res = int(m[1])
        return f"epilogue.{m[2]}" if res == 4 else f"blocks.{top - int(math.log2(res))}.{m[2]}"

    return _rename(official, block)


def _load_strict(
    module: torch.nn.Module, tensors: dict[str, torch.Tensor], what: str, allow_missing: tuple[str, ...] = ()
) -> None:
    own = module.state_dict()
    missing = sorted(k for k in set(own) - set(tensors) if not k.endswith(allow_missing))
    unexpected = sorted(set(tensors) - set(own))
    wrong = sorted(k for k in set(own) & set(tensors) if own[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        parts = []
        for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if names:
                parts.append(f"{label}: {', '.join(names[:4])}{'...' if len(names) > 4 else ''}")
        raise CheckpointError(
            f"the snapshot's {what} does not match a StyleGAN2 network built from its own "
            f"settings ({'; '.join(parts)})"
        )
    module.load_state_dict({**own, **tensors})


def convert(data: dict[str, Any], *, w_avg_samples: int = 4096) -> Imported:
    """Official records -> ganaug state dicts (checked by loading them into ganaug's networks)."""
    net, lr = network_config(data)
    notes = []
    try:
        states = {}
        for key in ("G_ema", "G"):
            rec = data.get(key)
            if not isinstance(rec, Record):
                notes.append("no G in the snapshot: G starts as a copy of G_ema")
                continue
            tensors = generator_names(rec.tensors())
            scale = lr["mapping"] / 0.01
            if scale != 1:  # ganaug's mapping has lr multiplier 0.01: keep w * gain identical
                tensors = {k: v * scale if k.startswith("mapping.layers.") else v for k, v in tensors.items()}
            G = build_generator(net)
            own = G.state_dict()
            for k in own:  # layers built with use_noise=False: no noise, i.e. zero strength
                if (
                    k.endswith(("noise_strength", "noise_const"))
                    and k not in tensors
                    and k.rsplit(".", 1)[0] + ".weight" in tensors
                ):
                    tensors[k] = torch.zeros_like(own[k])
            _load_strict(G, tensors, key, allow_missing=("w_avg_class",))
            if net.conditional:
                _estimate_class_averages(G, w_avg_samples)
            states[key] = G.state_dict()
        states.setdefault("G", states["G_ema"])
        d_state = None
        if isinstance(data.get("D"), Record):
            D = build_discriminator(net)
            _load_strict(D, discriminator_names(data["D"].tensors(), net.resolution), "D")
            d_state = D.state_dict()
        else:
            notes.append("no D in the snapshot: a transfer run starts D from scratch")
    except _Refused as e:
        raise CheckpointError(f"cannot import: {e}") from None
    p = None
    pipe = data.get("augment_pipe")
    if isinstance(pipe, Record):
        buf = (pipe.state.get("_buffers") or {}).get("p")
        if isinstance(buf, torch.Tensor) and buf.numel() == 1:
            p = float(buf)
    return Imported(net, states["G_ema"], states["G"], d_state, p, notes)


@torch.no_grad()
def _estimate_class_averages(G: torch.nn.Module, n: int) -> None:
    """ganaug truncates a conditional G toward a per-class average w; the official G keeps only the
    global one, so each class's average is estimated from ``n`` latents (seeded: reproducible)."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(n, G.z_dim, generator=gen)
    for k in range(G.num_classes):
        c = torch.full((n,), k, dtype=torch.long)
        ws = torch.cat([G.mapping(z[i : i + 1024], c[i : i + 1024])[:, 0] for i in range(0, n, 1024)])
        G.mapping.w_avg_class[k] = ws.mean(0)


# ----------------------------------------------------------------------------
# Public entry points.


def snapshot_state(path: str | Path, class_names: list[str] | None = None) -> dict[str, Any]:
    """A ganaug snapshot dict (G, D, G_ema, augment_pipe, config, class_names) from an official pickle.
    :func:`ganaug.checkpoint.import_nvlabs` writes it as a snapshot file."""
    path = Path(path)
    imported = convert(read_pickle(path))
    net = imported.network
    k = net.num_classes
    if class_names is None:
        class_names = [f"class{i}" for i in range(k)] if k else ["all"]
    elif k and len(class_names) != k:
        raise CheckpointError(
            f"the snapshot is conditional on {k} classes but {len(class_names)} class names "
            f"were given ({', '.join(class_names)})"
        )
    elif not k and len(class_names) != 1:
        raise CheckpointError("the snapshot is unconditional: give at most one class name")
    cfg = make_config(
        "stylegan2",
        "gpu",
        **{f.name: getattr(net, f.name) for f in fields(NetworkConfig) if f.name != "arch"},
    )
    pipe = AugmentPipe(net.channels)
    pipe.set_p(imported.augment_p or 0.0)
    m = re.search(r"snapshot-(\d+)", path.name)
    state = {
        "G": imported.G,
        "D": imported.D if imported.D is not None else {},
        "G_ema": imported.G_ema,
        "augment_pipe": pipe.state_dict(),
        "ada": {},
        "config": cfg.to_dict(),
        "class_names": list(class_names),
        "cur_nimg": int(m[1]) * 1000 if m else 0,
        "imported_from": {
            "file": path.name,
            "format": "nvlabs-stylegan2-ada",
            "augment_p": imported.augment_p,
            "notes": imported.notes,
        },
    }
    return state
