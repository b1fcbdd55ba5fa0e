"""Every source layout loads into the same ImageSet, with provenance paths and hashes."""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ganaug.data.imageset import ImageSet, pixel_hash
from ganaug.data.sources import load, load_builtin, read_idx, write_stylegan_dataset
from ganaug.errors import DataError, UserError


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def image_folder(root: Path, write_png, counts=(3, 2), size=8, rgb=False, seed=0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {}
    for c, n in zip(("b_cls", "a_cls"), counts):
        for i in range(n):
            shape = (size, size, 3) if rgb else (size, size)
            a = rng.integers(0, 256, shape, dtype=np.uint8)
            sub = "nested/deeper/" if i == 0 else ""  # recursive
            p = write_png(root / c / f"{sub}{i}.png", a)
            arrays[str(p)] = a
    return arrays


def as_chw(a: np.ndarray) -> np.ndarray:
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def test_image_folder_exact_pixels_labels_paths_hashes(tmp_path, write_png):
    arrays = image_folder(tmp_path, write_png)
    res = load(tmp_path)
    s = res.imageset
    assert s.class_names == ["a_cls", "b_cls"]  # sorted folder names
    assert s.counts() == {"a_cls": 2, "b_cls": 3}
    assert s.images.shape == (5, 1, 8, 8) and s.images.dtype == np.uint8
    for img, label, path, h in zip(s.images, s.labels, s.paths, s.hashes):
        np.testing.assert_array_equal(img, as_chw(arrays[path]))
        assert s.class_names[label] == Path(path).relative_to(tmp_path).parts[0]
        assert h == sha(path)
    assert res.report.resolution == [8, 8] and "all images are 8x8" in res.report.resolution_reason
    assert res.report.format == "image-folder" and res.partition is None


def test_rgb_and_resolution_rules(tmp_path, write_png):
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate([(10, 10), (12, 20), (30, 14), (16, 16), (20, 20)]):
        write_png(tmp_path / "x" / f"{i}.png", rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    res = load(tmp_path)
    # Shorter sides 10, 12, 14, 16, 20 -> median 14.
    assert res.imageset.images.shape == (5, 3, 14, 14)
    assert "median shorter side 14" in res.report.resolution_reason
    assert res.report.sizes["30x14"] == 1
    for fit in ("center-crop", "pad", "stretch"):
        assert load(tmp_path, resolution=(8, 6), fit=fit).imageset.images.shape == (5, 3, 8, 6)
    assert load(tmp_path, resolution=9, channels=1).imageset.images.shape == (5, 1, 9, 9)
    with pytest.raises(UserError, match="fit"):
        load(tmp_path, fit="squash")


def test_executors_agree(tmp_path, write_png):
    image_folder(tmp_path, write_png, counts=(40, 30), size=6)
    serial = load(tmp_path, executor="serial").imageset
    for ex in ("thread", "process"):
        other = load(tmp_path, executor=ex, workers=2).imageset
        np.testing.assert_array_equal(other.images, serial.images)
        assert other.paths == serial.paths and other.hashes == serial.hashes


def test_csv_layout(tmp_path, write_png):
    data = tmp_path / "train"
    rng = np.random.default_rng(0)
    arr = {
        n: rng.integers(0, 256, (6, 6), dtype=np.uint8) for n in ("10_left", "10_right", "13_left", "15_left")
    }
    for n, a in arr.items():
        write_png(data / f"{n}.jpeg" if n != "15_left" else data / f"{n}.png", a)
    write_png(data / "orphan.png", np.zeros((6, 6), np.uint8))
    labels = tmp_path / "trainLabels.csv"
    labels.write_text("image,level\n10_left,0\n10_right,2\n13_left,10\n15_left.png,2\nmissing_one,1\n")
    res = load(data, csv=labels)
    s = res.imageset
    assert s.class_names == ["0", "2", "10"]  # numeric labels sorted as numbers
    got = {Path(p).stem: s.class_names[y] for p, y in zip(s.paths, s.labels)}
    assert got == {"10_left": "0", "10_right": "2", "13_left": "10", "15_left": "2"}
    probs = {(p.kind, Path(p.path).name) for p in res.report.problems}
    assert ("missing-file", "missing_one") in probs
    assert ("unlabelled", "orphan.png") in probs
    missing = res.report.problems_of("missing-file")[0]
    assert "row 6" in missing.reason and "label '1'" in missing.reason
    # JPEG is lossy: close to the written pixels, PNG exact.
    i = [Path(p).stem for p in s.paths].index("15_left")
    np.testing.assert_array_equal(s.images[i, 0], arr["15_left"])
    # A single CSV next to the images is picked up automatically (no header, string labels).
    (data / "labels.csv").write_text("10_left.jpeg,cat\n10_right,dog\n13_left,cat\n15_left,dog\norphan,cat\n")
    auto = load(data)
    assert auto.report.format == "csv" and auto.imageset.counts() == {"cat": 3, "dog": 2}
    # An unknown header row is recognised because it names no file while the next row does.
    (data / "labels.csv").write_text("fname,cls\n10_left,cat\n10_right,dog\n")
    assert load(data).imageset.counts() == {"cat": 1, "dog": 1}


def test_stylegan_round_trip_zip_and_folder(tmp_path, make_imageset):
    src = make_imageset(counts=(3, 2, 4), size=8, channels=3, class_names=["x", "y", "z"])
    for dest in (tmp_path / "ds.zip", tmp_path / "dsdir"):
        write_stylegan_dataset(src, dest)
        res = load(dest)
        s = res.imageset
        np.testing.assert_array_equal(s.images, src.images)  # PNG: lossless
        np.testing.assert_array_equal(s.labels, src.labels)
        assert s.class_names == ["x", "y", "z"]
        assert res.report.format.startswith("stylegan")
        if dest.suffix == ".zip":
            assert s.paths[0] == f"{dest}#00000/img00000000.png"
            with zipfile.ZipFile(dest) as zf:
                meta = json.loads(zf.read("dataset.json"))
                assert s.hashes[0] == hashlib.sha256(zf.read("00000/img00000000.png")).hexdigest()
            assert meta["labels"][0] == ["00000/img00000000.png", 0]
            assert meta["ganaug"]["sources"] == src.paths
        else:
            assert s.hashes[1] == sha(s.paths[1])
    with pytest.raises(UserError, match="exists"):
        write_stylegan_dataset(src, tmp_path / "ds.zip")
    # Grayscale stays grayscale.
    gray = make_imageset(counts=(2, 2), channels=1)
    write_stylegan_dataset(gray, tmp_path / "g.zip")
    np.testing.assert_array_equal(load(tmp_path / "g.zip").imageset.images, gray.images)


def test_stylegan_labels_and_missing(tmp_path, write_png):
    root = tmp_path / "sg"
    write_png(root / "a.png", np.zeros((4, 4), np.uint8))
    write_png(root / "b.png", np.full((4, 4), 9, np.uint8))
    write_png(root / "c.png", np.full((4, 4), 19, np.uint8))
    (root / "dataset.json").write_text(
        json.dumps({"labels": [["a.png", 1], ["b.png", [1, 0]], ["gone.png", 0]]})
    )
    res = load(root)
    assert res.imageset.class_names == ["0", "1"]
    assert res.imageset.labels.tolist() == [1, 0]
    assert {(p.kind, Path(p.path).name) for p in res.report.problems} >= {
        ("missing-file", "gone.png"),
        ("unlabelled", "c.png"),
    }


def test_zip_of_image_folder(tmp_path, write_png):
    arrays = image_folder(tmp_path / "top", write_png)
    zpath = tmp_path / "data.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in arrays:
            zf.write(p, Path(p).relative_to(tmp_path).as_posix())  # inside a single "top/" folder
    s = load(zpath).imageset
    assert s.class_names == ["a_cls", "b_cls"] and len(s) == 5
    p0 = s.paths[0]
    assert p0.startswith(f"{zpath}#top/")
    np.testing.assert_array_equal(s.images[0], as_chw(arrays[str(tmp_path / p0.split("#")[1])]))


def write_idx(path: Path, arr: np.ndarray, gz: bool) -> Path:
    raw = (
        struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
    )
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def test_idx_folder_pair_and_gzip(tmp_path):
    rng = np.random.default_rng(0)
    xtr, ytr = rng.integers(0, 256, (7, 5, 5), dtype=np.uint8), np.array([0, 1, 2, 0, 1, 2, 0], np.uint8)
    xte, yte = rng.integers(0, 256, (3, 5, 5), dtype=np.uint8), np.array([2, 1, 0], np.uint8)
    d = tmp_path / "mnist"
    d.mkdir()
    write_idx(d / "train-images-idx3-ubyte.gz", xtr, gz=True)
    write_idx(d / "train-labels-idx1-ubyte.gz", ytr, gz=True)
    write_idx(d / "t10k-images-idx3-ubyte", xte, gz=False)
    write_idx(d / "t10k-labels-idx1-ubyte", yte, gz=False)
    res = load(d)
    s = res.imageset
    np.testing.assert_array_equal(s.images[:, 0], np.concatenate([xtr, xte]))
    assert s.labels.tolist() == ytr.tolist() + yte.tolist()
    assert res.partition == ["train"] * 7 + ["test"] * 3
    assert s.paths[8] == f"{d / 't10k-images-idx3-ubyte'}#1"
    assert s.hashes[8] == pixel_hash(xte[1][None])
    assert s.class_names == ["0", "1", "2"]
    # One image file (labels found by name) or an explicit pair; class names can be given.
    one = load(d / "t10k-images-idx3-ubyte", classes=["a", "b", "c"])
    assert one.partition is None and one.imageset.class_names == ["a", "b", "c"] and len(one.imageset) == 3
    pair = load((d / "train-images-idx3-ubyte.gz", d / "train-labels-idx1-ubyte.gz"), resolution=10)
    assert pair.imageset.images.shape == (7, 1, 10, 10) and pair.report.problems_of("upscaled")
    np.testing.assert_array_equal(read_idx(d / "train-labels-idx1-ubyte.gz"), ytr)
    (tmp_path / "bad-images-idx3-ubyte").write_bytes(
        b"\x00\x00\x08\x03" + struct.pack(">3I", 9, 5, 5) + b"12"
    )
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "bad-images-idx3-ubyte")


def test_npz_layouts(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (4, 6, 6, 3), dtype=np.uint8)
    y = np.array([0, 1, 1, 0])
    np.savez(tmp_path / "nhwc.npz", x=x, y=y, classes=np.array(["no", "yes"]))
    np.savez(tmp_path / "nchw.npz", x=x.transpose(0, 3, 1, 2), y=y)
    np.savez(tmp_path / "nhw.npz", x=x[..., 0], y=np.array(["b", "a", "a", "b"]))
    np.savez(tmp_path / "float.npz", x=x[..., 0].astype(np.float32) / 255, y=y)
    np.savez(tmp_path / "keras.npz", x_train=x[:3, ..., 0], y_train=y[:3], x_test=x[3:, ..., 0], y_test=y[3:])
    a = load(tmp_path / "nhwc.npz").imageset
    np.testing.assert_array_equal(a.images, x.transpose(0, 3, 1, 2))
    assert a.class_names == ["no", "yes"] and a.paths[2] == f"{tmp_path / 'nhwc.npz'}#2"
    np.testing.assert_array_equal(load(tmp_path / "nchw.npz").imageset.images, a.images)
    b = load(tmp_path / "nhw.npz").imageset
    assert b.class_names == ["a", "b"] and b.labels.tolist() == [1, 0, 0, 1] and b.channels == 1
    np.testing.assert_array_equal(load(tmp_path / "float.npz").imageset.images[:, 0], x[..., 0])
    k = load(tmp_path / "keras.npz")
    assert k.partition == ["train"] * 3 + ["test"]
    # An ImageSet's own npz keeps its paths and hashes.
    a.save_npz(tmp_path / "own.npz")
    again = load(tmp_path / "own.npz").imageset
    assert again.paths == a.paths and again.hashes == a.hashes


def test_builtin_demo():
    res = load_builtin("fashion-demo")
    s = res.imageset
    assert s.class_names == ["tshirt", "pullover", "shirt"]
    assert s.images.shape[1:] == (1, 28, 28)
    part = np.array(res.partition)
    train = s.labels[part == "train"]
    test = s.labels[part == "test"]
    assert np.bincount(train).tolist() == [300, 300, 30]
    assert np.bincount(test).tolist() == [500, 500, 500]
    assert len(set(s.hashes)) == len(s)  # no duplicates in the demo set
    assert s.paths[0].startswith("fashion-mnist/train-images-idx3-ubyte.gz#")
    assert load("builtin:fashion-demo", resolution=32).imageset.images.shape[2:] == (32, 32)
    with pytest.raises(UserError, match="available"):
        load("builtin:nope")


def test_source_errors(tmp_path, write_png):
    with pytest.raises(UserError, match="does not exist"):
        load(tmp_path / "nope")
    write_png(tmp_path / "flat" / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(UserError, match="--csv"):
        load(tmp_path / "flat")
    with pytest.raises(UserError, match="single image"):
        load(tmp_path / "flat" / "a.png")
    assert isinstance(load(tmp_path / "flat", csv=_csv(tmp_path, "a,x\n")).imageset, ImageSet)


def _csv(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "labels.csv"
    p.write_text(text)
    return p


def test_symlinked_class_folders_are_followed_without_loops(tmp_path, write_png):
    # Regression: a class folder that is a symlink was reported as an empty class ("no usable images").
    store = tmp_path / "store"
    for i in range(3):
        write_png(store / "linked" / f"{i}.png", np.full((4, 4), 10 * i, np.uint8))
    data = tmp_path / "data"
    write_png(data / "plain" / "0.png", np.full((4, 4), 200, np.uint8))
    (data / "linked").symlink_to(store / "linked", target_is_directory=True)
    (data / "plain" / "loop").symlink_to(data / "plain", target_is_directory=True)  # would recurse forever
    res = load(data)
    assert res.imageset.counts() == {"linked": 3, "plain": 1}
    assert not res.report.problems_of("empty-class")


def test_zip_utf8_names_without_utf8_flag(tmp_path, write_png):
    # Regression: Info-ZIP's `zip` stores UTF-8 names without the UTF-8 flag; zipfile decodes them as
    # cp437, which garbled non-ASCII class names ("rare bïrd" -> "rare b├»rd").
    write_png(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    zpath = tmp_path / "data.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.write(tmp_path / "a.png", "rare bïrd/a.png")
        zf.write(tmp_path / "a.png", "plain/a.png")
    raw = bytearray(zpath.read_bytes())
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # clear bit 11 in local and central headers
        i = raw.find(sig)
        while i >= 0:
            raw[i + off + 1] &= ~0x08 & 0xFF  # flag 0x0800, little-endian
            i = raw.find(sig, i + 4)
    zpath.write_bytes(bytes(raw))
    with zipfile.ZipFile(zpath) as zf:
        assert "rare bïrd/a.png" not in zf.namelist()  # zipfile itself garbles the name
    res = load(zpath)
    assert res.imageset.class_names == ["plain", "rare bïrd"] and len(res.imageset) == 2
    assert not res.report.skipped
