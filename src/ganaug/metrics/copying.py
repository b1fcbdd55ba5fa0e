"""The data-copying test of Meehan, Chaudhuri and Dasgupta 2020 (AISTATS), on feature arrays: do
generated samples sit closer to the training data than fresh real data does?"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu, norm
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors


def data_copying_test(
    train_feats: np.ndarray,  # [Ntrain, D] the generator's training data
    test_feats: np.ndarray,  # [Ntest, D] real held-out data from the same distribution
    generated_feats: np.ndarray,  # [Ngen, D]
    *,
    cells: int | None = None,  # k-means cells on the training data; None: Ntest // 50, within [2, 50]
    min_generated: int = 20,  # cells with fewer generated samples are left out (the paper's tau = 20 / Ngen)
    seed: int = 0,
) -> dict[str, Any]:
    """The data-copying test of Meehan, Chaudhuri and Dasgupta 2020 (AISTATS): ``z_u`` and a p-value.

    Training data is cut into cells by k-means (sklearn ``KMeans``). In each cell, the generated
    samples' distances to their nearest training sample are compared with the held-out samples' by a
    one-sided Mann-Whitney U test (``scipy.stats.mannwhitneyu``, normal approximation with ties): its
    z is negative when generated samples sit closer to the training data than fresh real data does.
    The cells' z are combined weighted by the share of held-out samples in each cell,
    ``Z_U = sum_pi P_n(pi) z(pi) / sqrt(sum_pi P_n(pi)^2)``, over the cells with at least
    ``min_generated`` generated samples (and one held-out sample). Under no copying Z_U is about
    standard normal: ``p_value = Phi(Z_U)`` (one-sided); the paper reads ``Z_U < -3`` as data-copying.
    A positive Z_U means generated samples are farther from the training data than real data is
    (underfitting), not copying.
    """
    train, test, gen = (np.asarray(x, dtype=np.float64) for x in (train_feats, test_feats, generated_feats))
    if cells is None:
        cells = int(np.clip(len(test) // 50, 2, 50))
    cells = int(min(cells, len(train)))
    out: dict[str, Any] = {
        "test": "data-copying (Meehan et al. 2020)",
        "space": "feature",
        "cells": cells,
        "min_generated_per_cell": min_generated,
        "n_train": len(train),
        "n_test": len(test),
        "n_generated": len(gen),
    }
    if cells < 2 or len(test) < 2 or len(gen) < min_generated:
        return {**out, "z_u": math.nan, "p_value": math.nan, "cells_used": 0, "per_cell": []}
    km = KMeans(n_clusters=cells, n_init=10, random_state=seed).fit(train)
    nn = NearestNeighbors(n_neighbors=1).fit(train)
    d_test, d_gen = nn.kneighbors(test)[0][:, 0], nn.kneighbors(gen)[0][:, 0]
    c_test, c_gen = km.predict(test), km.predict(gen)
    per_cell, weights, zs = [], [], []
    for c in range(cells):
        gt, gg = d_test[c_test == c], d_gen[c_gen == c]
        row = {"cell": c, "n_test": len(gt), "n_generated": len(gg), "z": math.nan}
        if len(gg) >= min_generated and len(gt) >= 1:
            kw = {"method": "asymptotic", "use_continuity": False}
            p_less = mannwhitneyu(gg, gt, alternative="less", **kw).pvalue
            # z from whichever tail keeps precision (p near 1 would round to 1).
            z = (
                norm.ppf(p_less)
                if p_less < 0.5
                else -norm.ppf(mannwhitneyu(gg, gt, alternative="greater", **kw).pvalue)
            )
            if math.isfinite(z):
                row["z"] = float(z)
                weights.append(len(gt) / len(test))
                zs.append(float(z))
        per_cell.append(row)
    if not zs:
        return {**out, "z_u": math.nan, "p_value": math.nan, "cells_used": 0, "per_cell": per_cell}
    w = np.asarray(weights)
    z_u = float((w * np.asarray(zs)).sum() / np.sqrt((w**2).sum()))
    return {**out, "z_u": z_u, "p_value": float(norm.cdf(z_u)), "cells_used": len(zs), "per_cell": per_cell}
