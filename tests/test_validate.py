"""Validation: every bad file becomes a problem with a reason; nothing crashes, nothing is modified."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganaug.data.sources import inspect, load
from ganaug.data.validate import InspectReport
from ganaug.errors import DataError


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def good_folder(root: Path, write_png, n: int = 4, size: int = 16) -> Path:
    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        for i in range(n):
            write_png(root / c / f"{i}.png", rng.integers(0, 256, (size, size), dtype=np.uint8))
    return root


def by_name(report: InspectReport) -> dict[str, list]:
    out: dict[str, list] = {}
    for p in report.problems:
        out.setdefault(Path(p.path.split("#")[0]).name, []).append(p)
    return out


def test_each_bad_kind_has_its_reason(tmp_path, write_png, bad_files):
    root = good_folder(tmp_path / "data", write_png)
    files = bad_files(root / "cat")
    before = tree_digest(root)
    result = load(root, resolution=16)
    assert tree_digest(root) == before  # nothing modified, nothing deleted
    probs = by_name(result.report)

    def kinds(name):
        return {(p.kind, p.severity) for p in probs[files[name].name]}

    assert kinds("empty") == {("empty-file", "skip")}
    assert kinds("truncated") == {("corrupt", "skip")}
    assert kinds("text") == {("not-image", "skip")}
    assert kinds("huge") == {("too-large", "skip")}
    assert "20000x20000" in probs["huge.png"][0].reason or "bomb" in probs["huge.png"][0].reason
    assert ("animated", "warning") in kinds("animated")
    assert "first frame" in probs["anim.gif"][0].reason
    assert kinds("exif") == {("exif-rotated", "warning")}
    assert kinds("rgba") == {("converted", "warning")}
    assert "alpha composited on white" in probs["alpha.png"][0].reason
    assert kinds("16bit") == {("converted", "warning")}
    assert kinds("small") == {("upscaled", "warning")}
    # 8 good + 5 usable-with-warning files.
    assert len(result.imageset) == 13
    assert len(result.report.skipped) == 4
    assert result.report.counts == {"cat": 9, "dog": 4}


def test_converted_pixel_values(tmp_path, write_png, bad_files):
    root = tmp_path / "data"
    good_folder(root, write_png, n=1)
    files = bad_files(root / "cat")
    result = load(root, resolution=16, channels=3)
    s = result.imageset
    img = {Path(p).name: s.images[i] for i, p in enumerate(s.paths)}
    assert (img["alpha.png"] == 255).all()  # transparent red on white -> white
    assert img["anim.gif"][0].mean() == pytest.approx(10, abs=1)  # first frame, not the second (200)
    deep = img["deep.png"][0].astype(int)
    assert deep.min() == 0 and deep.max() == 255  # 16-bit min..max -> 0..255
    assert (np.diff(deep.reshape(-1)) >= 0).all()  # monotone ramp preserved
    rot = img["rotated.jpg"][0].astype(int)
    assert rot[:6].mean() < 40 and rot[-6:].mean() > 215  # EXIF 6: left half (black) ends on top
    assert (img["small.png"] == 77).all()  # 8x8 constant upscaled to 16x16
    assert files["small"].exists()


def test_alpha_black_and_other_modes(tmp_path):
    root = tmp_path / "d" / "a"
    root.mkdir(parents=True)
    la = Image.new("LA", (8, 8), (100, 0))  # fully transparent
    la.save(root / "la.png")
    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    pal.save(root / "pal.png")
    Image.new("CMYK", (8, 8), (255, 0, 0, 0)).save(root / "cmyk.tif")
    Image.fromarray(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)).save(root / "float.tif")
    res = load(tmp_path / "d", alpha="black")
    img = {Path(p).name: res.imageset.images[i] for i, p in enumerate(res.imageset.paths)}
    assert res.imageset.channels == 3  # palette and CMYK are colour
    assert (img["la.png"] == 0).all()  # composited on black
    assert tuple(img["pal.png"][:, 0, 0]) == (10, 200, 30)
    assert tuple(img["cmyk.tif"][:, 0, 0]) == (0, 255, 255)  # cyan
    f = img["float.tif"][0]
    assert f.min() == 0 and f.max() == 255
    kinds = {(Path(p.path).name, p.kind) for p in res.report.problems}
    assert {("la.png", "converted"), ("cmyk.tif", "converted"), ("float.tif", "converted")} <= kinds
    assert ("pal.png", "converted") not in kinds  # a plain palette is not worth a warning


def test_max_pixels_guard_uses_pil_limit(tmp_path, write_png, monkeypatch):
    write_png(tmp_path / "a" / "big.png", np.zeros((40, 40), np.uint8))
    write_png(tmp_path / "a" / "ok.png", np.zeros((10, 10), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    res = load(tmp_path)
    assert res.imageset.paths == [str(tmp_path / "a" / "ok.png")]
    (p,) = res.report.skipped
    assert p.kind == "too-large" and "1600" in p.reason


def test_duplicates_and_conflicts(tmp_path, write_png):
    root = good_folder(tmp_path / "data", write_png)
    shutil.copy(root / "cat" / "0.png", root / "cat" / "copy.png")
    shutil.copy(root / "cat" / "1.png", root / "dog" / "stolen.png")
    res = load(root)
    dup = res.report.problems_of("duplicate")
    conf = res.report.problems_of("conflicting-labels")
    assert [Path(p.path).name for p in dup] == ["copy.png"]
    assert "0.png" in dup[0].reason
    assert [Path(p.path).name for p in conf] == ["stolen.png"]
    assert "'dog'" in conf[0].reason and "'cat'" in conf[0].reason
    assert len(res.imageset) == 10  # flagged, not dropped


def test_empty_class_single_class_and_stray_files(tmp_path, write_png):
    root = tmp_path / "data"
    write_png(root / "only" / "a.png", np.zeros((4, 4), np.uint8))
    write_png(root / "only" / "b.png", np.ones((4, 4), np.uint8))
    (root / "empty").mkdir()
    (root / "only" / "README.txt").write_text("hi")
    write_png(root / "stray.png", np.zeros((4, 4), np.uint8))
    res = load(root)
    assert res.imageset.class_names == ["only"]
    kinds = {p.kind: p for p in res.report.problems}
    assert kinds["empty-class"].path == "empty"
    assert "single-class" in kinds
    assert kinds["not-image"].path.endswith("README.txt")
    assert kinds["unlabelled"].path.endswith("stray.png")
    assert kinds["single-class"].severity == "warning"


def test_mixed_gray_and_rgb(tmp_path, write_png):
    write_png(tmp_path / "a" / "g.png", np.full((4, 4), 50, np.uint8))
    write_png(tmp_path / "a" / "c.png", np.dstack([np.full((4, 4), v, np.uint8) for v in (10, 20, 30)]))
    write_png(tmp_path / "b" / "grayish_rgb.png", np.full((4, 4, 3), 90, np.uint8))
    res = load(tmp_path)
    assert res.imageset.channels == 3
    (mixed,) = res.report.problems_of("mixed-channels")
    assert "2 of 3" in mixed.reason  # the RGB file with equal channels counts as grayscale
    img = {Path(p).name: res.imageset.images[i] for i, p in enumerate(res.imageset.paths)}
    assert (img["g.png"] == 50).all() and img["g.png"].shape == (3, 4, 4)
    # All-gray content -> one channel.
    (tmp_path / "a" / "c.png").unlink()
    assert load(tmp_path).imageset.channels == 1


def test_nothing_usable(tmp_path, bad_files):
    files = bad_files(tmp_path / "data" / "x")
    for k in ("animated", "exif", "rgba", "16bit", "small"):
        files[k].unlink()
    with pytest.raises(DataError, match="no usable images.*4 file"):
        load(tmp_path / "data")
    report = inspect(tmp_path / "data")
    assert not report.ok and len(report.skipped) == 4
    with pytest.raises(DataError, match="no images found"):
        (tmp_path / "empty").mkdir()
        load(tmp_path / "empty")


def test_report_outputs(tmp_path, write_png, bad_files):
    root = good_folder(tmp_path / "data", write_png, n=3)
    write_png(root / "dog" / "extra.png", np.zeros((16, 16), np.uint8))
    bad_files(root / "cat")
    report = inspect(root)
    d = json.loads(json.dumps(report.to_dict()))
    assert d["counts"] == {"cat": 8, "dog": 4} and d["imbalance_ratio"] == 2.0
    assert d["num_skipped"] == 4
    text = str(report)
    assert "Imbalance ratio (largest / smallest class): 2.00" in text
    assert "cat" in text and "[corrupt]" in text and "truncated.png" in text
    html = report._repr_html_()
    assert "<table>" in html and "truncated.png" in html
    back = InspectReport.from_dict(d)
    assert back.counts == report.counts and len(back.problems) == len(report.problems)


def test_dicom_through_pydicom(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    src = Path(get_testdata_file("CT_small.dcm"))
    (tmp_path / "ct").mkdir()
    shutil.copy(src, tmp_path / "ct" / "a.dcm")
    ds = pydicom.dcmread(src)
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.save_as(tmp_path / "ct" / "windowed.dcm")
    res = load(tmp_path)
    assert res.imageset.resolution == (128, 128) and res.imageset.channels == 1
    hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    img = {Path(p).name: res.imageset.images[i][0].astype(int) for i, p in enumerate(res.imageset.paths)}
    expect_minmax = np.rint((hu - hu.min()) * 255 / (hu.max() - hu.min()))
    assert np.abs(img["a.dcm"] - expect_minmax).max() <= 1
    expect_window = np.clip(np.rint((hu - (40 - 200)) * 255 / 400), 0, 255)
    assert np.abs(img["windowed.dcm"] - expect_window).max() <= 1
    assert any("WindowCenter" in n for n in res.report.notes)
    assert res.imageset.hashes[0] == hashlib.sha256((tmp_path / "ct" / "a.dcm").read_bytes()).hexdigest()


def test_dicom_without_pydicom(tmp_path, monkeypatch, write_png):
    from pydicom.data import get_testdata_file

    (tmp_path / "ct").mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "ct" / "a.dcm")
    monkeypatch.setitem(__import__("sys").modules, "pydicom", None)
    with pytest.raises(DataError, match="pydicom"):
        load(tmp_path)
    write_png(tmp_path / "ct" / "b.png", np.zeros((4, 4), np.uint8))
    res = load(tmp_path)
    (p,) = res.report.skipped
    assert p.kind == "missing-dependency" and "pip install" in p.reason


def test_repr_is_one_short_line(tmp_path, write_png, bad_files):
    # Regression: the dataclass repr dumped every problem (thousands of lines in a notebook).
    for i in range(4):
        write_png(tmp_path / "d" / "x" / f"{i}.png", np.full((8, 8), i, np.uint8))
    bad_files(tmp_path / "d" / "x")
    r = inspect(tmp_path / "d")
    text = repr(r)
    assert "\n" not in text and len(text) < 200
    assert text.startswith("InspectReport(") and f"{r.num_loaded} images" in text and "skipped" in text
    assert "<table>" in r._repr_html_()
