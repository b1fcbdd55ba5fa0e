"""Generation: determinism per seed, exports with provenance, balancing with exact counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganaug.data.imageset import ImageSet
from ganaug.errors import UserError
from ganaug.generation import balance, balance_plan, generate, parse_seeds, read_manifest
from ganaug.training import train
from ganaug.utils import sha256_file
from test_training import blobs, tiny


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    quiet = dict(progress=False, log=lambda s: None)
    out = {}
    for arch in ("dcgan", "stylegan2"):
        out[arch] = train(
            blobs(), tiny(arch, kimg=0.032, tick_kimg=0.032), run_dir=root / arch, **quiet
        ).run_dir
    return out


@pytest.mark.parametrize("arch", ["dcgan", "stylegan2"])
def test_same_seed_same_image_whatever_the_batch(runs, arch):
    a = generate(runs[arch], seeds="0-9", classes="all", batch_size=4, progress=False, device="cpu")
    b = generate(runs[arch], seeds=[7, 3], classes=["b"], batch_size=1, progress=False, device="cpu")
    assert len(a.images) == 20 and a.images.counts() == {"a": 10, "b": 10}
    imgs_b_class = a.images.images[a.images.labels == 1]
    np.testing.assert_array_equal(b.images.images[0], imgs_b_class[7])
    np.testing.assert_array_equal(b.images.images[1], imgs_b_class[3])
    assert not np.array_equal(imgs_b_class[0], imgs_b_class[1])  # different seeds differ
    c = generate(runs[arch], seeds="0-3", classes="a", truncation=0.0, progress=False, device="cpu")
    if arch == "stylegan2":  # psi = 0: every seed maps to the class's average w; only its own noise differs
        diff = np.abs(c.images.images.astype(int) - c.images.images[0].astype(int))
        assert diff.max() <= 8 and diff.mean() < 2


def test_export_folder_zip_npz_with_provenance(runs, tmp_path):
    out = tmp_path / "gen"
    res = generate(
        runs["dcgan"],
        n=5,
        classes="all",
        truncation=0.7,
        out=out,
        formats=("folder", "zip", "npz"),
        progress=False,
        device="cpu",
    )
    pngs = sorted(out.glob("*/*.png"))
    assert len(pngs) == 10 and {p.parent.name for p in pngs} == {"a", "b"}
    rows = read_manifest(out)
    assert len(rows) == 10
    by_file = {r["file"]: r for r in rows}
    for p in pngs:
        row = by_file[p.relative_to(out).as_posix()]
        assert row["kind"] == "synthetic" and row["class"] == p.parent.name
        assert row["sha256"] == sha256_file(p)
        meta = json.loads(Image.open(p).text["ganaug"])
        assert meta["seed"] == int(row["seed"]) and meta["truncation"] == 0.7
        assert meta["snapshot"] == Path(res.snapshot).name
    back = ImageSet.load_npz(out / "images.npz")
    np.testing.assert_array_equal(back.images, res.images.images)
    from ganaug.data.sources import load

    z = load(str(out / "dataset.zip")).imageset
    assert len(z) == 10 and sorted(z.class_names) == ["a", "b"]


def test_unknown_class_is_a_clear_error(runs):
    with pytest.raises(UserError, match="unknown class 'zebra'"):
        generate(runs["dcgan"], n=2, classes=["zebra"], progress=False)


def test_parse_seeds_and_plan():
    assert parse_seeds("0-3,10") == [0, 1, 2, 3, 10]
    assert parse_seeds(None, 3) == [0, 1, 2]
    with pytest.raises(UserError):
        parse_seeds("a-b")
    assert balance_plan({"a": 100, "b": 20, "c": 60}) == {"a": 0, "b": 80, "c": 40}
    assert balance_plan({"a": 100, "b": 20}, 50) == {"a": 0, "b": 30}
    assert balance_plan({"a": 100, "b": 20}, 0.5) == {"a": 0, "b": 30}


def test_balance_writes_exact_counts_and_manifest_matches_disk(runs, tmp_path):
    data = blobs(n_per_class=24).subset(list(range(24)) + list(range(24, 30)))  # a: 24, b: 6
    res = balance(data, runs["dcgan"], out=tmp_path / "bal", progress=False, device="cpu")
    assert res.real_counts == {"a": 24, "b": 6}
    assert res.synthetic_counts == {"a": 0, "b": 18}
    files = sorted((tmp_path / "bal").glob("*/*.png"))
    assert len(files) == 48
    assert len(list((tmp_path / "bal" / "b").glob("*.png"))) == 24
    rows = read_manifest(tmp_path / "bal")
    assert len(rows) == len(files)
    assert {r["file"] for r in rows} == {f.relative_to(tmp_path / "bal").as_posix() for f in files}
    for r in rows:
        if r["kind"] == "synthetic":
            assert r["sha256"] == sha256_file(tmp_path / "bal" / r["file"])
    kinds = [(r["class"], r["kind"]) for r in rows]
    assert kinds.count(("b", "synthetic")) == 18 and kinds.count(("b", "real")) == 6
    # Real images in the output are the training pixels themselves.
    real_b = [r for r in rows if r["kind"] == "real" and r["class"] == "b"]
    first = np.asarray(Image.open(tmp_path / "bal" / real_b[0]["file"]))
    np.testing.assert_array_equal(first, data.of_class("b").images[0, 0])


def test_balance_with_quality_filter_reports_drops(runs, tmp_path):
    from ganaug.data.prepared import prepare

    blobs(n_per_class=24).subset(list(range(24)) + list(range(24, 34))).save_npz(tmp_path / "d.npz")
    prepare(str(tmp_path / "d.npz"), tmp_path / "prep", seed=0, val=0.25, test=0.2)
    res = balance(
        tmp_path / "prep",
        runs["dcgan"],
        out=tmp_path / "bal",
        quality_filter=True,
        min_confidence=0.0,
        progress=False,
        device="cpu",
    )
    need = balance_plan(res.real_counts)
    assert res.synthetic_counts == need
    assert set(res.dropped) == {k for k, v in need.items() if v}
    assert all(v >= 0 for v in res.dropped.values())


def test_seed_options_are_checked():
    with pytest.raises(UserError, match="not both"):
        parse_seeds("0-3", 2)
    with pytest.raises(UserError, match="empty"):
        parse_seeds("9-0")
    with pytest.raises(UserError):
        parse_seeds("-3")


def test_unconditional_run_of_several_classes_is_labelled_all(tmp_path):
    run = train(
        blobs(),
        tiny(num_classes=0, kimg=0.032, tick_kimg=0.032),
        run_dir=tmp_path / "u",
        progress=False,
        log=lambda s: None,
    ).run_dir
    res = generate(run, n=3, progress=False, device="cpu")
    assert res.images.class_names == ["all"] and res.images.counts() == {"all": 3}
    assert all(p.startswith("synthetic:all/") for p in res.images.paths)
    with pytest.raises(UserError, match="mixture"):
        balance(blobs().subset(list(range(30))), run, out=tmp_path / "bal", progress=False, device="cpu")


def test_balance_refuses_a_run_of_another_class(tmp_path):
    run = train(
        blobs(),
        arch="dcgan",
        preset="tiny",
        classes=["a"],
        conditional=False,
        resolution=16,
        run_dir=tmp_path / "a",
        progress=False,
        log=lambda s: None,
        device="cpu",
        kimg=0.032,
    ).run_dir
    data = blobs().subset(list(range(24)) + list(range(24, 30)))  # b is the rare class
    with pytest.raises(UserError, match="trained on class 'a' only"):
        balance(data, run, out=tmp_path / "bal", progress=False, device="cpu")


def test_export_never_mixes_runs_silently(runs, tmp_path):
    out = tmp_path / "g"
    generate(runs["dcgan"], n=5, out=out, progress=False, device="cpu")
    with pytest.raises(UserError, match="already holds an export"):
        generate(runs["stylegan2"], n=2, out=out, progress=False, device="cpu")
    generate(runs["stylegan2"], n=2, out=out, progress=False, device="cpu", overwrite=True)
    files = sorted(p.relative_to(out).as_posix() for p in out.glob("*/*.png"))
    rows = read_manifest(out)
    assert len(files) == 4 and sorted(r["file"] for r in rows) == files  # every image has its row
    assert {r["run"] for r in rows} == {"stylegan2"}
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        generate(runs["dcgan"], n=1, out=tmp_path / "other", progress=False, device="cpu")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
