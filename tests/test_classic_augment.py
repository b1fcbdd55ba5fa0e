"""Classic augmentation: dataset multiplication and the classifier's batch transform."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganaug.augment.classic import ClassicAugment, augment_batch, multiply
from ganaug.data.imageset import pixel_hash


def test_multiply_shape_provenance_determinism(make_imageset):
    s = make_imageset(counts=(4, 3), size=12, channels=3)
    m = multiply(s, 10, seed=0)
    assert len(m) == 70 and m.images.dtype == np.uint8
    np.testing.assert_array_equal(m.images[:7], s.images)  # originals first, untouched
    assert m.paths[:7] == s.paths and m.hashes[:7] == s.hashes
    assert m.paths[7] == f"{s.paths[0]}#aug1" and m.paths[-1] == f"{s.paths[-1]}#aug9"
    assert m.hashes[7] == pixel_hash(m.images[7])
    assert m.labels.tolist() == s.labels.tolist() * 10
    np.testing.assert_array_equal(multiply(s, 10, seed=0).images, m.images)
    assert not np.array_equal(multiply(s, 10, seed=1).images, m.images)
    assert len(set(m.hashes)) == 70  # every copy differs from its original
    assert multiply(s, 1) is s


def test_multiply_discrete_ops_are_exact(make_imageset):
    s = make_imageset(counts=(2,), size=8, channels=1)
    flips = multiply(s, 2, ops=("hflip",))
    np.testing.assert_array_equal(flips.images[2:], s.images[..., ::-1])
    turns = multiply(s, 8, ops=("hflip", "rot90"))
    got = {pixel_hash(turns.images[k * 2]) for k in range(8)}
    img = s.images[0, 0]
    dihedral = {
        pixel_hash(np.ascontiguousarray(np.rot90(f, k))[None]) for f in (img, img[:, ::-1]) for k in range(4)
    }
    assert got == dihedral  # the 8 copies of image 0 are exactly the dihedral group
    with pytest.raises(Exception, match="unknown augmentation"):
        multiply(s, 2, ops=("shear",))


def test_classic_augment_batch():
    x = torch.rand(16, 3, 10, 10) * 2 - 1
    aug = ClassicAugment(channels=3)
    g = torch.Generator().manual_seed(0)
    y = aug(x, generator=g)
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    assert torch.equal(aug(x, generator=torch.Generator().manual_seed(0)), y)
    assert not torch.equal(y, x)


def test_default_never_flips_vertically():
    x = torch.zeros(64, 1, 6, 6)
    x[:, :, :2, :3] = 1.0  # top-left corner block
    aug = ClassicAugment(rotate=0, crop=0, brightness=0, contrast=0)
    y = aug(x, generator=torch.Generator().manual_seed(0))
    same = (y - x).abs().amax(dim=(1, 2, 3)) < 1e-5
    mirrored = (y - x.flip(-1)).abs().amax(dim=(1, 2, 3)) < 1e-5
    assert bool((same | mirrored).all()) and same.any() and mirrored.any()
    assert (y[:, :, :2].sum(dim=(1, 2, 3)) == 6).all()  # the block stays on top
    v = ClassicAugment(hflip=False, vflip=True, rotate=0, crop=0, brightness=0, contrast=0)
    yv = v(x, generator=torch.Generator().manual_seed(0))
    assert ((yv - x.flip(-2)).abs().amax(dim=(1, 2, 3)) < 1e-5).any()


def test_probability_and_color():
    x = torch.rand(32, 1, 8, 8) * 2 - 1
    assert torch.allclose(ClassicAugment(p=0.0)(x), x, atol=1e-5)
    y = augment_batch(x, brightness=torch.full((32,), 0.5))
    assert torch.allclose(y, (x + 0.5).clamp(-1, 1))
    c = augment_batch(x, contrast=torch.zeros(32))
    assert torch.allclose(c, x.mean(dim=(1, 2, 3), keepdim=True).expand_as(x))


def test_mirror_doubles_the_set_with_x_flips_only(make_imageset):
    from ganaug.augment.classic import mirror

    s = make_imageset(counts=(4, 3), size=12, channels=3)
    m = mirror(s)
    assert len(m) == 2 * len(s) == 14
    np.testing.assert_array_equal(m.images[:7], s.images)  # originals first, untouched
    np.testing.assert_array_equal(m.images[7:], s.images[..., ::-1])  # then exactly their left-right mirrors
    assert m.labels.tolist() == s.labels.tolist() * 2
    assert m.paths[7:] == [f"{p}#xflip" for p in s.paths]
    assert m.hashes[7] == pixel_hash(m.images[7]) and m.hashes[:7] == s.hashes
    assert not np.array_equal(m.images[7:], m.images[:7])  # the test images are not symmetric
