"""Distribution metrics on feature arrays: FID, KID, precision/recall/density/coverage, exact k-NN.

Every function here takes plain ``np.ndarray`` features [N, D] (any float or integer dtype) and is
deterministic, so it is testable without any network. The feature extractor decides what the numbers
mean: Inception features give the FID/KID everyone quotes; the offline default (a classifier trained on
this dataset's training split) gives numbers that compare only within one dataset.

- FID (Heusel et al. 2017): exact, float64, by a faster route than the libraries' general
  eigen-solver (see ``fid``); tests check it against torchmetrics and torch-fidelity to 1e-4.
- KID (Binkowski et al. 2018): torch-fidelity's kernel MMD in float64 (cubic polynomial kernel), with
  a subset size that works for a few hundred images, and a standard error only where subsets differ.
- ``matched``: any of these on equal-sized random subsets of both sides, repeated (FID, KID and
  PRDC depend on the sample sizes, so only equal sizes compare).
- PRDC (Naeem et al. 2020) and k-NN are exact, computed with ``torch.cdist`` over chunks so memory
  stays bounded (a few hundred MB for 50k x 10k images of 3x32x32, whatever the row counts). Every
  distance that is compared with a radius goes through one exact float64 path (``_exact_dist``), so
  ties are ties; tests check PRDC against the ``prdc`` package (Naeem et al.'s code).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from scipy.stats import sem

# Each distance block and each converted chunk stays under about this many float32 values (64 MB).
_BLOCK_ELEMS = 1 << 24


# ----------------------------------------------------------------------------
# FID and KID


def fid(real_feats: np.ndarray, fake_feats: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to the two feature sets (float64, exact).

    ``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))``. With A, B the centred feature rows
    and R1, R2 their QR factors, the eigenvalues of S1 S2 are those of ``C C^T`` / ((n1-1)(n2-1)),
    ``C = R1 R2^T`` (at most D x D, and only n x n for few images): one symmetric eigen-solve instead
    of the general one torch-fidelity and torchmetrics use on S1 S2 (same value, several times faster
    at 2048-d; tests check both libraries to 1e-4). Rows are streamed, so memory stays ~D x D.
    Returns NaN when either set has fewer than 2 rows; round-off below 0 is returned as 0.
    """
    real, fake = (
        _as_2d(real_feats, "real_feats", keep_dtype=True),
        _as_2d(fake_feats, "fake_feats", keep_dtype=True),
    )
    _check_dims(real, fake)
    n1, n2 = len(real), len(fake)
    if n1 < 2 or n2 < 2:
        return float("nan")
    mu1, mu2 = _mean(real), _mean(fake)
    r1, r2 = _r_factor(real, mu1), _r_factor(fake, mu2)
    trace_1, trace_2 = float((r1 * r1).sum()) / (n1 - 1), float((r2 * r2).sum()) / (n2 - 1)  # |A|_F = |R|_F
    c = r1 @ r2.T
    lam = torch.linalg.eigvalsh(c @ c.T if c.shape[0] <= c.shape[1] else c.T @ c)
    trace_sqrt = float(lam.clamp(min=0).sqrt().sum()) / math.sqrt((n1 - 1) * (n2 - 1))
    diff = mu1 - mu2
    return max(float(diff @ diff) + trace_1 + trace_2 - 2 * trace_sqrt, 0.0)


def _r_factor(x: np.ndarray, mean: np.ndarray) -> torch.Tensor:
    """R of the QR factorisation of the centred rows of x (float64), computed over row chunks."""
    dim = x.shape[1]
    step = max(4 * dim, _BLOCK_ELEMS // 4 // max(dim, 1))
    m = torch.from_numpy(mean)
    r = None
    for s in range(0, len(x), step):
        chunk = torch.from_numpy(np.asarray(x[s : s + step], dtype=np.float64)) - m
        r = torch.linalg.qr(chunk if r is None else torch.cat([r, chunk]), mode="r").R
    return r


def kid(
    real_feats: np.ndarray,
    fake_feats: np.ndarray,
    subset_size: int | None = None,  # default min(1000, n_real, n_fake): works for a few hundred images
    subsets: int = 100,  # number of random subsets the unbiased MMD^2 is averaged over
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance (cubic polynomial kernel MMD^2): ``(mean, standard error)`` over subsets.

    Each subset's unbiased MMD^2 is torch-fidelity's ``kernel_mmd`` (subsets drawn as its
    ``kid_features_to_metric`` draws them). The standard error (scipy.stats.sem) is NaN when every
    subset would be the whole of both sets: then there is one value, computed once, and no spread.
    Unbiased, so it can be slightly negative for two samples of one distribution. Returns
    ``(nan, nan)`` when either set has fewer than 2 rows.
    """
    # Imported here: torch-fidelity loads torchvision (seconds); the other metrics do without it.
    from torch_fidelity.metric_kid import kernel_mmd

    real, fake = _as_2d(real_feats, "real_feats"), _as_2d(fake_feats, "fake_feats")
    _check_dims(real, fake)
    m = min(1000, len(real), len(fake)) if subset_size is None else min(subset_size, len(real), len(fake))
    if m < 2:
        return float("nan"), float("nan")
    whole = m == len(real) == len(fake)
    rng = np.random.RandomState(int(seed))
    mmds = []
    for _ in range(1 if whole else max(1, int(subsets))):
        a = real[rng.choice(len(real), m, replace=False)]
        b = fake[rng.choice(len(fake), m, replace=False)]
        mmds.append(float(kernel_mmd(a, b, kid_kernel="poly")))
    return float(np.mean(mmds)), float(sem(mmds)) if len(mmds) > 1 else float("nan")


def matched(
    metrics,  # callable(real [m, D], fake [m, D]) -> dict of floats
    real_feats: np.ndarray,
    fake_feats: np.ndarray,
    size: int,  # rows of each side per repeat (at most the smaller set)
    repeats: int = 10,
    seed: int = 0,
) -> list[dict[str, float]]:
    """``metrics`` on equal-sized sets: each side randomly subsampled (without replacement) to ``size``
    rows, ``repeats`` times; one dict per repeat.

    FID, KID and PRDC depend on the sample sizes (FID of a 64-d standard normal against itself: 43
    at 50 vs 50 rows, 6.9 at 300, 0.76 at 3000), so values are only comparable at equal sizes. When neither side is larger than ``size`` every repeat would be the same: one dict.
    """
    real, fake = np.asarray(real_feats), np.asarray(fake_feats)
    size = int(min(size, len(real), len(fake)))
    if len(real) == size and len(fake) == size:
        return [metrics(real, fake)]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(max(1, int(repeats))):
        r = real if len(real) == size else real[np.sort(rng.choice(len(real), size, replace=False))]
        f = fake if len(fake) == size else fake[np.sort(rng.choice(len(fake), size, replace=False))]
        out.append(metrics(r, f))
    return out


# ----------------------------------------------------------------------------
# Precision / recall / density / coverage


def prdc(
    real_feats: np.ndarray, fake_feats: np.ndarray, k: int = 5, device: str | torch.device = "cpu"
) -> dict:
    """Precision, recall, density, coverage of Naeem et al. 2020 with k-NN balls.

    - precision: fraction of fakes inside at least one real k-NN ball (fidelity);
    - recall: fraction of reals inside at least one fake k-NN ball (diversity);
    - density: mean number of real balls containing a fake, divided by k (~1 when matched);
    - coverage: fraction of reals whose own ball contains at least one fake.
    Returns NaNs when either set has k rows or fewer.
    """
    real, fake = (
        _as_2d(real_feats, "real_feats", keep_dtype=True),
        _as_2d(fake_feats, "fake_feats", keep_dtype=True),
    )
    _check_dims(real, fake)
    nan = {"precision": math.nan, "recall": math.nan, "density": math.nan, "coverage": math.nan}
    if len(real) <= k or len(fake) <= k:
        return nan
    # Radii and every compared distance come from one numeric path, ``_exact_dist`` (knn re-measures
    # its neighbours with it): a distance equal to a radius (ties, common on integer-valued features)
    # is then never inside, as in the reference package. The float64 matmul blocks only decide pairs
    # that are clearly inside or outside; pairs within ``tol`` of a radius are re-measured exactly.
    center = _mean(real)
    real_radii = knn(real, real, k, exclude_self=True, center=center, device=device)[0][:, -1]
    fake_radii = knn(fake, fake, k, exclude_self=True, center=center, device=device)[0][:, -1]
    tol = _matmul_tolerance(real, fake, center)

    # One pass over all real x fake distance blocks.
    dev = torch.device(device)
    rr = torch.from_numpy(real_radii).to(dev)
    fr = torch.from_numpy(fake_radii).to(dev)
    rr2, fr2 = rr.square(), fr.square()
    fake_hits = torch.zeros(len(fake), dtype=torch.int64, device=dev)  # real balls containing each fake
    real_covered = torch.zeros(len(real), dtype=torch.bool, device=dev)  # a fake inside the real's ball
    real_recalled = torch.zeros(len(real), dtype=torch.bool, device=dev)  # real inside some fake ball
    for (i0, i1), (j0, j1), d in _distance_blocks(real, fake, center, dev, dtype=torch.float64):
        d2 = d.square_()
        gap_r, gap_f = d2 - rr2[i0:i1, None], d2 - fr2[None, j0:j1]
        inside_real, inside_fake = gap_r < 0, gap_f < 0
        close = (gap_r.abs_() <= tol) | (gap_f.abs_() <= tol)
        if close.any():
            ii, jj = close.nonzero(as_tuple=True)
            ic, jc = ii.cpu().numpy() + i0, jj.cpu().numpy() + j0
            exact = torch.from_numpy(_exact_dist(real[ic], fake[jc])).to(dev)
            inside_real[ii, jj] = exact < rr[i0 + ii]
            inside_fake[ii, jj] = exact < fr[j0 + jj]
        fake_hits[j0:j1] += inside_real.sum(0)
        real_covered[i0:i1] |= inside_real.any(1)
        real_recalled[i0:i1] |= inside_fake.any(1)
    return {
        "precision": float((fake_hits > 0).double().mean()),
        "recall": float(real_recalled.double().mean()),
        "density": float(fake_hits.double().mean() / k),
        "coverage": float(real_covered.double().mean()),
    }


def _matmul_tolerance(a: np.ndarray, b: np.ndarray, center: np.ndarray) -> float:
    """A bound on |squared distance by the centred float64 matmul - by ``_exact_dist``|, generous.

    Both are within about D * 2^-53 * (|a - c|^2 + |b - c|^2) of the true value; 64 times that bound
    still sends only (near-)ties to the exact re-measurement.
    """
    biggest = 0.0
    step = max(1, _BLOCK_ELEMS // max(a.shape[1], 1))
    for x in (a, b):
        for s in range(0, len(x), step):
            chunk = np.asarray(x[s : s + step], dtype=np.float64) - center
            biggest = max(biggest, float(np.einsum("ij,ij->i", chunk, chunk).max()))
    return 64.0 * (a.shape[1] + 2) * np.finfo(np.float64).eps * 2.0 * biggest


def _exact_dist(a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Euclidean distance of row i of a to row i of b [P, D] -> [P], float64 by direct differences.

    The one numeric path for every distance that is compared with another (k-NN radii, PRDC balls):
    symmetric and exact on integer-valued features, so ties stay ties.
    """
    diff = a.astype(np.float64) * scale - b.astype(np.float64) * scale
    return np.sqrt(np.einsum("ij,ij->i", diff, diff))


# ----------------------------------------------------------------------------
# Exact k-nearest neighbours, chunked


def knn(
    query: np.ndarray,  # [Nq, D] any numeric dtype (uint8 images flattened are fine)
    ref: np.ndarray,  # [Nr, D]
    k: int,
    *,
    exclude_self: bool = False,  # query IS ref (same rows): leave-one-out, skip i == i
    scale: float = 1.0,  # multiply values by this before measuring (e.g. 1/255 for uint8 pixels)
    center: np.ndarray | None = None,  # subtracted before the float32 matmul (defaults to ref's mean)
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact Euclidean k-NN of each query row among ref rows: ``(dist float64 [Nq, k], index int64 [Nq, k])``.

    Candidates are found with float32 ``torch.cdist`` on bounded chunks (memory does not grow with
    Nq x Nr), then the best few are re-measured exactly in float64 and sorted by (distance, index).
    The result therefore does not depend on chunk sizes and is deterministic; exact copies get
    distance 0. ``k`` is capped at the number of available neighbours.
    """
    query, ref = _as_2d(query, "query", keep_dtype=True), _as_2d(ref, "ref", keep_dtype=True)
    _check_dims(query, ref)
    if exclude_self and len(query) != len(ref):
        raise ValueError("exclude_self needs query and ref to be the same rows")
    n_avail = len(ref) - (1 if exclude_self else 0)
    k = min(int(k), n_avail)
    if k <= 0 or len(query) == 0:
        return np.zeros((len(query), max(k, 0))), np.zeros((len(query), max(k, 0)), dtype=np.int64)
    dev = torch.device(device)
    if center is None:
        center = _mean(ref, scale)
    kk = min(n_avail, k + 8)  # a few spare candidates so float32 near-ties are settled in float64

    cand = np.empty((len(query), kk), dtype=np.int64)
    best_d = best_i = None
    for (i0, i1), (j0, j1), d in _distance_blocks(query, ref, center, dev, scale=scale):
        if j0 == 0:
            best_d = torch.empty(i1 - i0, 0, device=dev)
            best_i = torch.empty(i1 - i0, 0, dtype=torch.int64, device=dev)
        if exclude_self:  # the query's own row, if it is in this block
            rows = torch.arange(i0, i1, device=dev)
            own = (rows >= j0) & (rows < j1)
            d[own.nonzero()[:, 0], (rows[own] - j0)] = math.inf
        d_blk, i_blk = torch.topk(d, min(kk, j1 - j0), dim=1, largest=False)
        best_d = torch.cat([best_d, d_blk], 1)
        best_i = torch.cat([best_i, i_blk + j0], 1)
        best_d, order = torch.topk(best_d, min(kk, best_d.shape[1]), dim=1, largest=False)
        best_i = torch.gather(best_i, 1, order)
        if j1 == len(ref):
            cand[i0:i1] = best_i.cpu().numpy()

    # Re-measure the candidates exactly and keep the k best, ties broken by the lower index.
    dist = np.empty((len(query), kk), dtype=np.float64)
    step = max(1, _BLOCK_ELEMS // 4 // (kk * query.shape[1]))
    for s in range(0, len(query), step):
        q = np.repeat(query[s : s + step], kk, axis=0)  # [b * kk, D], row-paired with its candidates
        r = ref[cand[s : s + step].ravel()]
        dist[s : s + step] = _exact_dist(q, r, scale).reshape(-1, kk)
    order = np.lexsort((cand, dist), axis=1)[:, :k]
    return np.take_along_axis(dist, order, 1), np.take_along_axis(cand, order, 1)


# ----------------------------------------------------------------------------
# Helpers


def _distance_blocks(
    a: np.ndarray,
    b: np.ndarray,
    center: np.ndarray,
    dev: torch.device,
    scale: float = 1.0,
    dtype: torch.dtype = torch.float32,
) -> Iterator[tuple[tuple[int, int], tuple[int, int], torch.Tensor]]:
    """Yield ((i0, i1), (j0, j1), cdist block) over a x b, row blocks of a outermost, b in order."""
    dim = a.shape[1]
    rows_b = int(np.clip(_BLOCK_ELEMS // max(dim, 1), 256, 8192))
    rows_a = int(np.clip(min(_BLOCK_ELEMS // rows_b, _BLOCK_ELEMS // max(dim, 1)), 64, 1024))
    c = torch.from_numpy(np.asarray(center, dtype=np.float64)).to(dev, dtype=dtype)
    # Convert b once when it is small; otherwise per block (bounded memory for huge sets).
    b_all = _to_dev(b, scale, c, dev) if b.shape[0] * dim <= 2 * _BLOCK_ELEMS else None
    for i0 in range(0, len(a), rows_a):
        i1 = min(i0 + rows_a, len(a))
        xa = _to_dev(a[i0:i1], scale, c, dev)
        for j0 in range(0, len(b), rows_b):
            j1 = min(j0 + rows_b, len(b))
            xb = b_all[j0:j1] if b_all is not None else _to_dev(b[j0:j1], scale, c, dev)
            # Centring first keeps the ||a||^2 + ||b||^2 - 2ab matmul trick accurate.
            yield (i0, i1), (j0, j1), torch.cdist(xa, xb, compute_mode="use_mm_for_euclid_dist")


def _to_dev(x: np.ndarray, scale: float, center: torch.Tensor, dev: torch.device) -> torch.Tensor:
    """x * scale - center on dev, in center's dtype."""
    # copy=True: a CPU input of that dtype would otherwise share memory and be centred in place.
    t = torch.from_numpy(np.ascontiguousarray(x)).to(dev, dtype=center.dtype, copy=True)
    if scale != 1.0:
        t.mul_(scale)
    return t.sub_(center)


def _mean(x: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Column mean in float64, chunked so huge uint8 arrays are never copied whole."""
    total = np.zeros(x.shape[1], dtype=np.float64)
    step = max(1, _BLOCK_ELEMS // max(x.shape[1], 1))
    for s in range(0, len(x), step):
        total += x[s : s + step].sum(axis=0, dtype=np.float64)
    return total * (scale / max(len(x), 1))


def _as_2d(x: np.ndarray, name: str, keep_dtype: bool = False) -> np.ndarray:
    if torch.is_tensor(x):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [N, D], got shape {x.shape}")
    if keep_dtype and x.dtype in (np.uint8, np.float32, np.float64):
        return x
    return x.astype(np.float64, copy=False)


def _check_dims(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} vs {b.shape[1]}")
