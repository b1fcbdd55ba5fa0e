"""Split invariants and the prepared folder."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ganaug.data.imageset import ImageSet
from ganaug.data.prepared import load_prepared, prepare
from ganaug.data.split import (
    Split,
    apply_split,
    make_split,
    parse_imbalance,
    restrict_train,
)
from ganaug.errors import DataError, UserError


def imageset(counts=(40, 23, 7), dup_groups=0, seed=0) -> ImageSet:
    rng = np.random.default_rng(seed)
    n = sum(counts)
    images = rng.integers(0, 256, (n, 1, 4, 4), dtype=np.uint8)
    labels = np.repeat(np.arange(len(counts)), counts)
    hashes = [f"h{i:04d}" for i in range(n)]
    for g in range(dup_groups):  # groups of 3 same-hash images within class 0 (+ one across classes)
        for j in (1, 2):
            hashes[3 * g + j] = hashes[3 * g]
    if dup_groups:
        hashes[-1] = hashes[0]  # a conflicting-label copy
    return ImageSet(
        images, labels, ["coat", "pullover", "shirt"][: len(counts)], [f"f{i}.png" for i in range(n)], hashes
    )


def split_labels(s: ImageSet, split: Split) -> dict[str, np.ndarray]:
    return {k: s.labels[v] for k, v in split.indices.items()}


def test_partition_cover_and_stratification():
    s = imageset()
    split = make_split(s, seed=3, val=0.15, test=0.2)
    allidx = split.train + split.val + split.test
    assert sorted(allidx) == list(range(len(s)))  # disjoint and complete
    for c, n in enumerate((40, 23, 7)):
        for part, frac in (("test", 0.2), ("val", 0.15)):
            got = int((s.labels[split.indices[part]] == c).sum())
            assert abs(got - n * frac) <= 1, (c, part, got)
    assert split.hashes["test"] == [s.hashes[i] for i in split.test]
    assert split.paths["val"] == [s.paths[i] for i in split.val]


def test_deterministic_and_order_independent():
    s = imageset()
    a, b = make_split(s, seed=7), make_split(s, seed=7)
    assert a.indices == b.indices
    assert make_split(s, seed=8).indices != a.indices
    # The same files listed in another order give the same images (by hash) in each split.
    perm = np.random.default_rng(1).permutation(len(s))
    shuffled = s.subset(perm)
    c = make_split(shuffled, seed=7)
    for part in ("train", "val", "test"):
        assert sorted(c.hashes[part]) == sorted(a.hashes[part])


def test_duplicates_never_straddle():
    s = imageset(dup_groups=5)
    for seed in range(10):
        split = make_split(s, seed=seed)
        where = {}
        for part, idx in split.indices.items():
            for i in idx:
                assert where.setdefault(s.hashes[i], part) == part


def test_imbalance_and_limit_touch_train_only():
    s = imageset(counts=(60, 60, 60))
    base = make_split(s, seed=0)
    r = restrict_train(base, s, imbalance="coat=5,pullover=500")
    assert r.test == base.test and r.val == base.val
    counts = r.counts(s.labels)["train"]
    assert counts["coat"] == 5 and counts["pullover"] == base.counts(s.labels)["train"]["pullover"]
    assert any("500 training images asked" in n for n in r.notes)
    assert len(r.dropped) == base.counts(s.labels)["train"]["coat"] - 5
    assert {d["index"] for d in r.dropped} <= set(base.train)
    lim = restrict_train(base, s, per_class_limit=10, imbalance={"shirt": 3})
    assert lim.counts(s.labels)["train"] == {"coat": 10, "pullover": 10, "shirt": 3}
    assert lim.test == base.test
    # Nested: a smaller limit keeps a subset of a larger one.
    small = set(restrict_train(base, s, per_class_limit=4).train)
    assert small <= set(lim.train) | set(restrict_train(base, s, per_class_limit=10).train)
    assert small <= set(restrict_train(base, s, per_class_limit=10).train)
    with pytest.raises(DataError, match="unknown class 'hat'"):
        restrict_train(base, s, imbalance="hat=3")


def test_parse_imbalance():
    assert parse_imbalance("coat=20, pullover=500") == {"coat": 20, "pullover": 500}
    assert parse_imbalance("ankle=boot=3") == {"ankle=boot": 3}
    assert parse_imbalance(None) == {}
    for bad in ("coat", "coat=x", "coat=-1", "=3"):
        with pytest.raises(UserError):
            parse_imbalance(bad)


def test_predefined_partition_honoured():
    s = imageset(counts=(30, 30))
    partition = ["test" if i % 3 == 0 else "train" for i in range(len(s))]
    # One training image is a copy of a test image: it must not be trained on.
    s.hashes[1] = s.hashes[0]
    split = make_split(s, seed=0, val=0.2, test=0.5, partition=partition)
    assert split.test == [i for i, p in enumerate(partition) if p == "test"]
    assert 1 not in split.train + split.val
    assert split.dropped[0]["index"] == 1 and "test" in split.dropped[0]["reason"]
    pool = 40 - 1
    assert abs(len(split.val) - 0.2 * pool) <= 2


def test_save_load_apply(tmp_path):
    s = imageset()
    split = restrict_train(make_split(s, seed=1), s, per_class_limit=5)
    split.save(tmp_path / "split.json")
    back = Split.load(tmp_path / "split.json")
    assert back.indices == split.indices and back.hashes == split.hashes and back.dropped == split.dropped
    parts = apply_split(s, back)
    assert len(parts["train"]) == len(split.train) and parts["test"].hashes == split.hashes["test"]
    bad = s.subset(range(len(s)))
    bad.hashes[split.test[0]] = "tampered"
    with pytest.raises(DataError, match="hash"):
        apply_split(bad, back)


def png_folder(root, write_png, counts=(10, 6)):
    rng = np.random.default_rng(0)
    for c, n in zip(("a", "b"), counts):
        for i in range(n):
            write_png(root / c / f"{i}.png", rng.integers(0, 256, (8, 8), dtype=np.uint8))
    return root


def test_prepare_folder_reuse_and_conflicts(tmp_path, write_png):
    data = png_folder(tmp_path / "data", write_png)
    out = tmp_path / "prep"
    p = prepare(data, out, seed=0, resolution=4)
    assert {f.name for f in out.iterdir()} == {"images.npz", "split.json", "inspect.json"}
    assert p.train.resolution == (4, 4) and len(p.train) + len(p.val) + len(p.test) == 16
    meta = json.loads((out / "split.json").read_text())
    assert set(meta["splits"]) == {"train", "val", "test"} and meta["options"]["prepare"]["resolution"] == 4
    assert json.loads((out / "inspect.json").read_text())["counts"] == {"a": 10, "b": 6}
    loaded = load_prepared(out)
    assert loaded.class_names == ["a", "b"] and loaded.test.hashes == p.test.hashes
    np.testing.assert_array_equal(loaded.train.images, p.train.images)

    mtime = (out / "images.npz").stat().st_mtime_ns
    again = prepare(data, out, seed=0, resolution=4)
    assert again.reused and (out / "images.npz").stat().st_mtime_ns == mtime
    with pytest.raises(UserError, match="differs in: seed"):
        prepare(data, out, seed=1, resolution=4)
    write_png(data / "a" / "new.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(UserError, match="source contents"):
        prepare(data, out, seed=0, resolution=4)
    redone = prepare(data, out, seed=1, resolution=4, overwrite=True)
    assert not redone.reused and len(redone.images) == 17
    with pytest.raises(UserError, match="inside the data folder"):
        prepare(data, data / "prepared")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    with pytest.raises(UserError, match="not a prepared data folder"):
        prepare(data, tmp_path / "other")


def test_load_prepared_detects_tampering(tmp_path, write_png):
    data = png_folder(tmp_path / "data", write_png)
    out = tmp_path / "prep"
    prepare(data, out)
    meta = json.loads((out / "split.json").read_text())
    meta["splits"]["test"]["hashes"][0] = "0" * 64
    (out / "split.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="does not match"):
        load_prepared(out)
    with pytest.raises(UserError, match="not a prepared data folder"):
        load_prepared(tmp_path / "data")


def test_prepare_builtin_honours_test_and_imbalance(tmp_path):
    p = prepare(builtin="fashion-demo", out=tmp_path / "demo", seed=0, imbalance="shirt=10", test=0.5)
    assert p.test.counts() == {"tshirt": 500, "pullover": 500, "shirt": 500}  # the predefined test set
    assert p.test.paths[0].startswith("fashion-mnist/t10k-images")
    train = p.train.counts()
    assert train["shirt"] == 10
    val = p.val.counts()
    for name, pool in (("tshirt", 300), ("pullover", 300), ("shirt", 30)):
        assert abs(val[name] - pool * 0.15) <= 1
    assert train["tshirt"] + val["tshirt"] == 300
    plain = prepare(builtin="fashion-demo", out=tmp_path / "demo2", seed=0)
    assert plain.test.hashes == p.test.hashes  # imbalance never changes the test split
    assert plain.val.hashes == p.val.hashes
    assert math.isclose(len(plain.train), 630 - len(plain.val))


def test_prepared_repr_and_html(tmp_path, write_png):
    # Regression: PreparedData had the dataclass repr (every index, path and hash) and no notebook view.
    p = prepare(png_folder(tmp_path / "data", write_png), tmp_path / "prep", seed=0)
    text = repr(p)
    assert "\n" not in text and len(text) < 200
    assert f"train {len(p.train)} / val {len(p.val)} / test {len(p.test)}" in text
    html = p._repr_html_()
    assert "<pre>" in html and "<img" in html


def test_prepare_refuses_an_empty_training_split(tmp_path, write_png):
    # Regression: --per-class-limit 0 wrote a prepared folder with no training images at all.
    data = png_folder(tmp_path / "data", write_png)
    with pytest.raises(UserError, match="no training images left"):
        prepare(data, tmp_path / "prep", per_class_limit=0)
    assert not (tmp_path / "prep" / "split.json").exists()
    p = prepare(data, tmp_path / "prep2", imbalance="a=0")  # one class emptied: allowed, with a note
    assert p.train.counts()["a"] == 0 and any("no training images kept" in n for n in p.split.notes)


def test_imbalance_naming_a_class_twice_is_an_error():
    # Regression: "coat=5,coat=6" silently kept the last count.
    with pytest.raises(UserError, match="twice"):
        parse_imbalance("coat=5,coat=6")


def test_load_prepared_on_raw_data_suggests_the_right_command(tmp_path, write_png):
    # Regression: the message suggested `ganaug prepare DATA --out <the raw data folder>`, which prepare refuses.
    data = png_folder(tmp_path / "data", write_png)
    with pytest.raises(UserError, match=f"ganaug prepare {data} --out PREPARED"):
        load_prepared(data)
