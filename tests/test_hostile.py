"""Hostile input and rough handling (issue 13): nothing is written outside --out, workers end with
their parent, run folders are locked, bad values are refused up front with one clear line."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ganaug.data.imageset import ImageSet
from ganaug.errors import UserError
from test_training import blobs, tiny

SRC = str(Path(__file__).resolve().parents[1] / "src")
QUIET = dict(progress=False, log=lambda s: None)


def _env() -> dict[str, str]:
    env = dict(
        os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1"
    )
    return env


def _cli(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """`ganaug ARGS` in this process (so monkeypatches apply): (exit status, stdout, stderr)."""
    from ganaug.cli import main

    monkeypatch.setattr(sys, "argv", ["ganaug", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def _random_set(names, n_per_class=4, size=16, seed=0) -> ImageSet:
    rng = np.random.default_rng(seed)
    k = len(names)
    return ImageSet(
        rng.integers(0, 256, (k * n_per_class, 1, size, size), dtype=np.uint8),
        np.repeat(np.arange(k), n_per_class),
        list(names),
    )


# ----------------------------------------------------------------------------
# 1. Class labels never become paths


def _hostile_names(tmp_path: Path) -> list[str]:
    return [
        "../../../escaped",
        str(tmp_path / "abs_escape"),
        "",
        ".",
        "..",
        "nul\x00byte",
        "a/b",
        "a_b",
        "caf\u00e9",
        "cafe\u0301",
        "ok",
    ]


def _assert_export_contained(out: Path, before: set[Path], root: Path, names: list[str]) -> None:
    from ganaug.generation import read_manifest

    after = _files(root)
    outside = [p for p in after - before if out not in p.parents and p != out and p not in out.parents]
    assert outside == [], outside
    rows = read_manifest(out)
    folders: dict[str, set[str]] = {}
    for r in rows:
        f = r["file"].split("#", 1)[0]
        assert (out / f).resolve().is_relative_to(out.resolve())
        assert (out / f).is_file()
        if "/" in f:
            folders.setdefault(r["class"], set()).add(f.split("/", 1)[0])
    # One folder per class, distinct between classes, recorded in the manifest with the real name.
    assert all(len(v) == 1 for v in folders.values())
    assert len({next(iter(v)) for v in folders.values()}) == len(folders)
    assert set(folders) <= set(names)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    from ganaug.training import train

    root = tmp_path_factory.mktemp("hostile")
    names = _hostile_names(root)
    data = _random_set(names)
    run = train(
        data, tiny(num_classes=len(names), kimg=0.016, tick_kimg=0.016), run_dir=root / "run", **QUIET
    )
    return run.run_dir, names, data


def test_generate_folder_with_hostile_class_names_writes_only_inside_out(
    hostile_run, tmp_path, monkeypatch, capsys
):
    run, names, _ = hostile_run
    out = tmp_path / "a" / "b" / "c" / "out"
    before = _files(tmp_path)
    code, _, err = _cli(
        monkeypatch,
        capsys,
        "generate",
        run,
        "--n",
        2,
        "--out",
        out,
        "--format",
        "folder",
        "--format",
        "zip",
        "--format",
        "npz",
        "--device",
        "cpu",
        "-q",
    )
    assert code == 0, err
    _assert_export_contained(out, before, tmp_path, names)
    assert not (run.parent / "abs_escape").exists()
    classes = {r["class"] for r in csv.DictReader(open(out / "manifest.csv", newline="", encoding="utf-8"))}
    assert classes == set(names)


def test_balance_with_hostile_class_names_writes_only_inside_out(hostile_run, tmp_path):
    from ganaug.generation import balance

    run, names, data = hostile_run
    unbalanced = data.subset(np.r_[np.arange(0, len(data), 4), np.arange(1, 8)])
    out = tmp_path / "x" / "y" / "z" / "out"
    before = _files(tmp_path)
    balance(unbalanced, run, out=out, formats=("folder",), device="cpu", progress=False)
    _assert_export_contained(out, before, tmp_path, names)
    assert not (run.parent / "abs_escape").exists()


def _export_loaded(imageset: ImageSet, out: Path) -> None:
    from ganaug.generation import GenerateResult, export

    res = GenerateResult(imageset, np.arange(len(imageset)), "snap/snapshot-000001.pt", 1.0, 1.0)
    export(res, out, formats=("folder", "zip", "npz"), real=imageset)


def test_hostile_labels_from_csv_npz_dataset_json_and_folders_stay_inside_out(tmp_path, write_png):
    from ganaug.data.sources import load

    names = [
        n for n in _hostile_names(tmp_path) if n and "\x00" not in n
    ]  # CSV cells: no NUL, empty = unlabelled
    img = np.full((8, 8), 128, np.uint8)
    # CSV
    flat = tmp_path / "src" / "flat"
    rows = []
    for i, n in enumerate(names):
        write_png(flat / f"{i}.png", img + i)
        rows.append([f"{i}.png", n])
    with open(flat / "labels.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["filename", "label"], *rows])
    # npz with classes (NUL and empty names included)
    all_names = _hostile_names(tmp_path)
    npz = tmp_path / "src" / "set.npz"
    np.savez(
        npz,
        x=np.stack([img + i for i in range(len(all_names))]),
        y=np.arange(len(all_names)),
        classes=np.array(all_names),
    )
    # dataset.json with class_names
    sg = tmp_path / "src" / "sg"
    for i in range(len(all_names)):
        write_png(sg / f"{i}.png", img + i)
    (sg / "dataset.json").write_text(
        json.dumps({"labels": [[f"{i}.png", i] for i in range(len(all_names))], "class_names": all_names})
    )
    # folder names: what a file system allows, colliding after sanitising (NFC/NFD, case)
    tree = tmp_path / "src" / "tree"
    folder_names = ["caf\u00e9", "cafe\u0301", "-rf", "a:b", "a_b", " x "]
    for i, n in enumerate(folder_names):
        write_png(tree / n / "0.png", img + i)
    for label, source in (("csv", flat), ("npz", npz), ("dataset.json", sg), ("folders", tree)):
        loaded = load(source).imageset
        out = tmp_path / "exports" / label / "deep" / "out"
        before = _files(tmp_path)
        _export_loaded(loaded, out)
        _assert_export_contained(out, before, tmp_path, loaded.class_names)
        assert (
            len(
                {r["class"] for r in csv.DictReader(open(out / "manifest.csv", newline="", encoding="utf-8"))}
            )
            == loaded.num_classes
        )
    assert not (tmp_path / "abs_escape").exists()


def test_class_folder_names_are_safe_and_distinct():
    from ganaug.utils import class_folder_names

    names = [
        "../../../escaped",
        "/tmp/abs_escape",
        "",
        ".",
        "..",
        "nul\x00byte",
        "a/b",
        "a_b",
        "A_B",
        "caf\u00e9",
        "cafe\u0301",
        "CON",
        "x" * 500,
    ]
    folders = class_folder_names(names)
    assert len(folders) == len(names)
    assert len({f.casefold() for f in folders}) == len(names)
    for f in folders:
        assert f and f not in (".", "..") and "/" not in f and "\\" not in f and "\x00" not in f
        assert not f.startswith(".") and len(f.encode()) <= 120
    assert folders[9] == "caf\u00e9"  # the first of two colliding names keeps it
    assert class_folder_names(["shirt", "coat"]) == ["shirt", "coat"]  # ordinary names unchanged


# ----------------------------------------------------------------------------
# 4. One process per run folder


def _hold_lock(path: Path) -> subprocess.Popen:
    code = (
        "import sys, time; from ganaug.locking import run_lock\n"
        f"with run_lock({str(path)!r}):\n"
        "    print('locked', flush=True); time.sleep(60)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], env=_env(), stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "locked"
    return p


def test_second_train_on_a_run_folder_is_refused_with_the_holders_pid(tmp_path):
    from ganaug.training import train

    run = train(blobs(), tiny(kimg=0.032, tick_kimg=0.032), run_dir=tmp_path / "run", **QUIET).run_dir
    stats = (run / "stats.jsonl").read_bytes()
    holder = _hold_lock(run)
    try:
        with pytest.raises(UserError, match=f"in use by PID {holder.pid}"):
            train(blobs(), resume=run, kimg=0.064, **QUIET)
    finally:
        holder.kill()
        holder.wait()
    assert (run / "stats.jsonl").read_bytes() == stats  # nothing written by the refused process
    # The holder is gone: its stale lock file is taken over.
    res = train(blobs(), resume=run, kimg=0.064, **QUIET)
    assert res.kimg == pytest.approx(0.064)


def test_second_pipeline_on_a_run_folder_is_refused_and_a_dead_holder_is_taken_over(tmp_path):
    from ganaug.pipeline import run

    data = tmp_path / "d.npz"
    blobs().save_npz(data)
    out = tmp_path / "run"
    out.mkdir()
    holder = _hold_lock(out)
    try:
        with pytest.raises(UserError, match=f"in use by PID {holder.pid}"):
            run(data, out=out, stages=["inspect"], **QUIET)
        assert not (out / "inspect.json").exists() and not (out / "pipeline.json").exists()
    finally:
        holder.kill()
        holder.wait()
    (out / ".ganaug.lock").write_text(f"{holder.pid}\n")  # a lock file left by a dead process
    run(data, out=out, stages=["inspect"], **QUIET)
    assert (out / "inspect.json").exists()


# ----------------------------------------------------------------------------
# 5. Bad values refused up front


@pytest.mark.parametrize(
    "setting, word",
    [
        ("benchmark.seeds=abc", "seeds"),
        ("gan.nosuch=1", "nosuch"),
        ("benchmark.fractions=[0, -1]", "fractions"),
        ("generate.truncation=nan", "truncation"),
        ('gan.kimg="fast"', "kimg"),
        ("gan.g_lr=-1", "g_lr"),
        ("data.val=2", "val"),
        ('benchmark.baselines=["nope"]', "nope"),
    ],
)
def test_run_validates_the_whole_config_before_the_first_stage(tmp_path, monkeypatch, capsys, setting, word):
    data = tmp_path / "d.npz"
    blobs().save_npz(data)
    out = tmp_path / "run"
    code, _, err = _cli(monkeypatch, capsys, "run", data, "--out", out, "--set", setting, "-q")
    assert code == 1
    assert word in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    "toml, word",
    [('[gan]\nkimg = "fast"\n', "kimg"), ("[[gan]]\nkimg = 1\n", "gan"), ("benchmark = 3\n", "benchmark")],
)
def test_run_refuses_bad_config_files_up_front(tmp_path, monkeypatch, capsys, toml, word):
    data = tmp_path / "d.npz"
    blobs().save_npz(data)
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    code, _, err = _cli(monkeypatch, capsys, "run", data, "--out", tmp_path / "run", "--config", cfg, "-q")
    assert code == 1 and word in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    from ganaug.data.prepared import prepare

    root = tmp_path_factory.mktemp("prep")
    blobs(n_per_class=20).save_npz(root / "d.npz")
    prepare(root / "d.npz", root / "prepared", seed=0)
    return root / "prepared"


@pytest.mark.parametrize(
    "args, word",
    [
        (["--kimg", "nan"], "kimg"),
        (["--g-lr", "nan"], "g_lr"),
        (["--g-lr", "-1"], "g_lr"),
        (["--kimg", "inf"], "kimg"),
        (["--d-lr", "0"], "d_lr"),
    ],
)
def test_train_refuses_nan_inf_and_negative_numbers(prepared, tmp_path, monkeypatch, capsys, args, word):
    code, _, err = _cli(
        monkeypatch,
        capsys,
        "train",
        prepared,
        "--preset",
        "tiny",
        "--out",
        tmp_path / "runs",
        "--device",
        "cpu",
        *args,
    )
    assert code == 1 and word in err and "Traceback" not in err
    assert not any((tmp_path / "runs").glob("*/snapshot-*.pt"))


def test_generate_refuses_seeds_beyond_range(hostile_run, tmp_path, monkeypatch, capsys):
    run, _, _ = hostile_run
    for seeds in ("99999999999999999999", "0-99999999999"):
        code, _, err = _cli(
            monkeypatch,
            capsys,
            "generate",
            run,
            "--seeds",
            seeds,
            "--out",
            tmp_path / "g",
            "--device",
            "cpu",
            "-q",
        )
        assert code == 1 and "seed" in err and "Traceback" not in err, err
    assert not (tmp_path / "g").exists()


# ----------------------------------------------------------------------------
# 6. Messages instead of tracebacks


def _stylegan_folder(tmp_path: Path, labels, write_png) -> Path:
    root = tmp_path / "sg"
    for i in range(3):
        write_png(root / f"{i}.png", np.full((8, 8), 50 * i, np.uint8))
    (root / "dataset.json").write_text(json.dumps({"labels": labels}))
    return root


@pytest.mark.parametrize(
    "labels",
    [
        {"0.png": 0},
        [["0.png", "x"], ["1.png", 0], ["2.png", 1]],
        [["0.png", -1], ["1.png", 0], ["2.png", 1]],
        [["0.png"], ["1.png", 0]],
        [["0.png", 1.5], ["1.png", 0], ["2.png", 1]],
        "labels",
    ],
)
def test_bad_dataset_json_labels_are_reported_not_raised(tmp_path, write_png, labels):
    from ganaug.data.sources import load
    from ganaug.errors import DataError

    root = _stylegan_folder(tmp_path, labels, write_png)
    if not isinstance(labels, list):
        with pytest.raises(DataError, match="labels"):
            load(root)
        return
    res = load(root)
    bad = [p for p in res.report.problems if p.kind == "bad-label"]
    assert len(bad) == 1 and bad[0].path.endswith("0.png")
    assert res.report.num_loaded == len(labels) - 1


def test_a_huge_dataset_json_label_allocates_no_class_per_index(tmp_path, write_png):
    root = _stylegan_folder(tmp_path, [["0.png", 10**9], ["1.png", 0], ["2.png", 0]], write_png)
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "from ganaug.data.sources import load\n"
        f"r = load({str(root)!r}).imageset\n"
        "print(r.class_names, r.counts())\n"
    )
    p = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "'1000000000'" in p.stdout and "'0'" in p.stdout


def test_evaluate_of_one_pixel_images_is_a_clear_error(tmp_path, monkeypatch, capsys):
    from ganaug.metrics.evaluation import evaluate

    s = _random_set(["a", "b"], n_per_class=10, size=1)
    with pytest.raises(UserError, match="1x1"):
        evaluate(s, s, s, val=s, device="cpu")


def test_disk_full_is_one_line_naming_the_path_and_keeps_earlier_outputs(tmp_path, monkeypatch, capsys):
    import errno

    data = tmp_path / "d.npz"
    blobs(n_per_class=20).save_npz(data)
    out = tmp_path / "prep"
    code, _, err = _cli(monkeypatch, capsys, "prepare", data, "--out", out)
    assert code == 0, err
    before = {p: p.read_bytes() for p in out.iterdir()}

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    code, _, err = _cli(monkeypatch, capsys, "prepare", data, "--out", out, "--seed", "1", "--overwrite")
    assert code == 1
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "No space left on device" in lines[0] and str(out) in lines[0], err
    # Nothing already written is damaged: every file left is the earlier one, byte for byte, and no
    # temporary file is left (prepare --overwrite drops its completion marker split.json first, by design).
    after = {p: p.read_bytes() for p in out.iterdir()}
    assert after and all(before.get(p) == b for p, b in after.items()), sorted(after)
    assert (out / "images.npz").exists()


def test_permission_denied_is_one_line_naming_the_path(tmp_path, monkeypatch, capsys):
    import errno
    import tempfile

    data = tmp_path / "d.npz"
    blobs(n_per_class=20).save_npz(data)
    real = tempfile.mkstemp

    def denied(*a, dir=None, **kw):
        if dir is not None and "locked" in str(dir):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dir))
        return real(*a, dir=dir, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    code, _, err = _cli(monkeypatch, capsys, "prepare", data, "--out", tmp_path / "locked")
    assert code == 1
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "Permission denied" in lines[0] and "locked" in lines[0], err


# ----------------------------------------------------------------------------
# 7. --out inside the data folder


@pytest.mark.parametrize("inside", ["run", "."])
def test_run_out_inside_the_data_folder_is_refused_before_writing(tmp_path, write_png, inside):
    from ganaug.pipeline import run

    data = tmp_path / "data"
    for c in ("a", "b"):
        for i in range(3):
            write_png(data / c / f"{i}.png", np.full((8, 8), 40 * i, np.uint8))
    before = {p: p.stat().st_mtime_ns for p in data.rglob("*")}
    with pytest.raises(UserError, match="inside the data"):
        run(data, out=data / inside, **QUIET)
    assert {p: p.stat().st_mtime_ns for p in data.rglob("*")} == before


# ----------------------------------------------------------------------------
# 9. Smaller cases


def test_unreadable_class_folder_is_reported_as_permission_denied(tmp_path, write_png, monkeypatch):
    import errno

    from ganaug.data.sources import load

    data = tmp_path / "data"
    for c in ("a", "b", "c"):
        for i in range(2):
            write_png(data / c / f"{i}.png", np.full((8, 8), 40 * i, np.uint8))
    real = os.scandir

    def scandir(path="."):
        if Path(path).name == "b":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = load(data).report
    denied = [p for p in report.problems if p.kind == "unreadable"]
    assert len(denied) == 1 and denied[0].path == str(data / "b") and "permission denied" in denied[0].reason
    assert report.counts == {"a": 2, "c": 2}


def test_nan_pixels_in_an_npz_are_reported_not_zeroed(tmp_path):
    from ganaug.data.sources import load

    x = np.random.default_rng(0).random((6, 8, 8)).astype(np.float32)
    x[2, 3, 3] = np.nan
    x[4] = np.inf
    np.savez(tmp_path / "f.npz", x=x, y=np.array([0, 0, 0, 1, 1, 1]))
    res = load(tmp_path / "f.npz")
    bad = sorted(p.path for p in res.report.problems if p.kind == "nan-pixels")
    assert bad == [f"{tmp_path / 'f.npz'}#2", f"{tmp_path / 'f.npz'}#4"]
    assert res.report.num_loaded == 4
    # The other images keep their scale (0..1 floats -> 0..255), unaffected by the dropped ones.
    assert res.imageset.images[0, 0, 0, 0] == round(float(x[0, 0, 0]) * 255)


def test_resuming_on_different_data_names_the_classes_that_differ(tmp_path):
    from ganaug.training import train

    run = train(blobs(), tiny(kimg=0.032, tick_kimg=0.032), run_dir=tmp_path / "run", **QUIET).run_dir
    with pytest.raises(UserError) as e:
        train(blobs(classes=("a", "bag")), resume=run, kimg=0.064, **QUIET)
    msg = str(e.value)
    assert "'b'" in msg and "'bag'" in msg and "resume" in msg


def test_refused_checkpoint_does_not_suggest_weights_only_false(tmp_path):
    import argparse

    import torch

    from ganaug.checkpoint import load_snapshot
    from ganaug.errors import CheckpointError
    from ganaug.metrics.features import load_inception
    from ganaug.models.classifier import load_classifier

    bad = tmp_path / "snapshot-000001.pt"
    torch.save({"G_ema": argparse.Namespace(x=1), "config": {}}, bad)
    for load in (load_snapshot, load_classifier, load_inception):
        with pytest.raises((CheckpointError, UserError)) as e:
            load(bad)
        msg = str(e.value)
        assert "will likely succeed" not in msg and "weights_only=False" not in msg, msg
        assert "may run code" in msg and "refused" in msg


# ----------------------------------------------------------------------------
# 3. A kill between any two writes of the generate stage resumes with the same command

TINY_RUN = {
    "gan.preset": "tiny",
    "gan.resolution": 16,
    "gan.kimg": 0.032,
    "generate.per_class": 8,
    "evaluate.features": "pixels",
    "device": "cpu",
}


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (raised right after a file was committed)."""


def test_generate_stage_killed_after_each_write_resumes_with_the_same_command(tmp_path, monkeypatch):
    from ganaug.pipeline import Pipeline, run

    data = tmp_path / "d.npz"
    blobs(n_per_class=20).save_npz(data)
    out = tmp_path / "run"
    stages = ["inspect", "split", "train", "generate"]
    run(data, out=out, stages=stages, overrides=TINY_RUN, **QUIET)
    reference = ImageSet.load_npz(out / "synthetic" / "images.npz")
    original, real_replace = Pipeline.stage_generate, os.replace
    k, writes = 0, None
    while writes is None or k <= writes:
        k += 1
        count = [0]

        def replace(a, b, count=count, k=k):
            real_replace(a, b)
            count[0] += 1
            if count[0] == k:
                raise Killed

        def killed_stage(self):
            monkeypatch.setattr(os, "replace", replace)
            try:
                original(self)
            finally:
                monkeypatch.setattr(os, "replace", real_replace)
            raise Killed  # after the stage's last write, before the pipeline records it as done

        monkeypatch.setattr(Pipeline, "stage_generate", killed_stage)
        with pytest.raises(Killed):
            run(data, out=out, stages=stages, force=["generate"], overrides=TINY_RUN, **QUIET)
        if count[0] < k:
            writes = count[0]  # the stage made count[0] writes: this round killed it after all of them
        monkeypatch.setattr(Pipeline, "stage_generate", original)
        res = run(data, out=out, stages=stages, overrides=TINY_RUN, **QUIET)  # the same command again
        assert res.stages["generate"]["status"] == "done"
        again = ImageSet.load_npz(out / "synthetic" / "images.npz")
        np.testing.assert_array_equal(again.images, reference.images)
        assert sorted(p.name for p in (out / "synthetic").iterdir()) == ["images.npz", "manifest.csv"]
    assert writes >= 3  # marker, images.npz, manifest.csv: a kill after each one was tried


# ----------------------------------------------------------------------------
# 2. Workers end with their parent


def _session_pids(sid: int) -> list[int]:
    """Processes of session ``sid`` (the test starts the command in a new session)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    out = []
    if psutil is not None:
        for p in psutil.process_iter():
            try:
                if os.getsid(p.pid) == sid and p.status() != psutil.STATUS_ZOMBIE:
                    out.append(p.pid)
            except (psutil.Error, OSError):
                continue
        return out
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:  # state, ppid, pgrp, session
            out.append(int(d.name))
    return out


@pytest.fixture(scope="module")
def bench_inputs(tmp_path_factory):
    from ganaug.data.prepared import prepare

    root = tmp_path_factory.mktemp("bench")
    blobs(n_per_class=40).save_npz(root / "d.npz")
    prepare(root / "d.npz", root / "prepared", seed=0)
    blobs(n_per_class=40).save_npz(root / "syn.npz")
    return root


def _sigint_as_in_a_terminal() -> None:
    """In the child before exec: a test run started in the background (`make test &`) hands SIGINT
    down ignored, Python then keeps it ignored, and the Ctrl-C case could never end the benchmark."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_benchmark(root: Path, out: Path) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "ganaug",
        "benchmark",
        "--data",
        root / "prepared",
        "--synthetic",
        root / "syn.npz",
        "--fractions",
        "0,0.5",
        "--seeds",
        "4",
        "--baselines",
        "none",
        "--epochs",
        "500",
        "--jobs",
        "2",
        "--device",
        "cpu",
        "--out",
        out,
        "-q",
    ]
    p = subprocess.Popen(
        [str(c) for c in cmd],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_sigint_as_in_a_terminal,
    )
    deadline = time.time() + 180
    while time.time() < deadline:  # wait until the two workers have started (their initializer ran)
        if len([q for q in _session_pids(p.pid) if _is_ready_worker(q)]) >= 2:
            time.sleep(1)
            return p
        assert p.poll() is None, p.communicate()
        time.sleep(0.2)
    p.kill()
    pytest.fail("the benchmark workers did not start")


def _is_ready_worker(pid: int) -> bool:
    """A pool worker whose initializer has run: it ignores SIGINT (the resource tracker does too,
    so it is told apart by its command line)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    if b"multiprocessing" not in cmdline or b"resource_tracker" in cmdline:
        return False
    ignored = next(
        (int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigIgn:")), 0
    )
    return bool(ignored & (1 << (signal.SIGINT - 1)))


def _gone(sid: int, within: float = 20.0) -> list[int]:
    deadline = time.time() + within
    while time.time() < deadline:
        left = _session_pids(sid)
        if not left:
            return []
        time.sleep(0.2)
    return _session_pids(sid)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -9)])
def test_stopping_the_benchmark_leaves_no_process_behind(bench_inputs, tmp_path, sig, code):
    p = _start_benchmark(bench_inputs, tmp_path / "b")
    try:
        if sig == signal.SIGINT:
            os.killpg(p.pid, sig)  # Ctrl-C reaches the whole foreground process group
        else:
            os.kill(p.pid, sig)
        _, err = p.communicate(timeout=60)
        assert p.returncode == code, err
        assert "Traceback" not in err, err
        left = _gone(p.pid)
        assert left == [], f"left behind: {left}"
    finally:
        for q in _session_pids(p.pid):
            os.kill(q, signal.SIGKILL)


# ----------------------------------------------------------------------------
# 8. 10,000 classes: grids, inspect and the report stay readable


def test_ten_thousand_classes_grids_inspect_and_report_stay_small(tmp_path):
    from PIL import Image

    from ganaug.data.validate import InspectReport
    from ganaug.reporting import build_report
    from ganaug.training import train

    k = 10_000
    names = [f"c{i:05d}" for i in range(k)]
    data = _random_set(names, n_per_class=1, size=16)
    logs: list[str] = []
    res = train(
        data,
        tiny(num_classes=k, kimg=0.016, tick_kimg=0.016),
        run_dir=tmp_path / "run",
        progress=False,
        log=logs.append,
    )
    run = res.run_dir
    assert any(f"16 of the {k} classes" in m for m in logs), logs
    for name in ("reals.png", "fakes_init.png", "fakes000000.016.png"):
        with Image.open(run / name) as im:
            w, h = im.size
        assert max(w, h) <= 2048 and min(w, h) * 16 >= max(w, h) / 4, (name, im.size)  # 16 rows, not 10,000
    grids = sum(p.stat().st_size for p in run.glob("*.png"))
    assert grids < 2_000_000
    report = build_report(run)
    assert Path(report).stat().st_size < 3_000_000

    insp = InspectReport(
        source="many",
        format="npz",
        num_files=k,
        num_loaded=k,
        class_names=names,
        counts={n: 1 for n in names},
        resolution=[16, 16],
        channels=1,
    )
    text = str(insp)
    assert len(text.splitlines()) < 100
    assert f"... and {k - 30} more classes" in text and "c00000" in text and "c09999" not in text


def test_a_file_is_listed_once_in_the_problems(tmp_path, write_png):
    from ganaug.data.sources import load

    for i in range(4):
        write_png(tmp_path / "flat" / f"{i}.png", np.full((8, 8), 40 * i, np.uint8))
    (tmp_path / "flat" / "labels.csv").write_text(
        "filename,label\n0.png,a\n1.png,a\n2.png,b\n3.png,b\ngone.png,a\ngone.png,a\ngone,b\n"
    )
    report = load(tmp_path / "flat").report
    paths = [(p.path, p.kind) for p in report.problems]
    assert len(paths) == len(set(paths))
    assert [p for p, k in paths if k == "missing-file"] == [
        str(tmp_path / "flat" / "gone.png"),
        str(tmp_path / "flat" / "gone"),
    ]


def test_class_count_plot_of_ten_thousand_classes_stays_small():
    from ganaug.reporting import plots

    names = [f"c{i:05d}" for i in range(10_000)]
    t0 = time.time()
    png = plots.class_counts({"train": {n: 3 for n in names}, "test": {n: 1 for n in names}}, names)
    assert png is not None and len(png) < 300_000 and time.time() - t0 < 30


def test_class_tables_of_many_classes_list_the_rarest_and_largest(tmp_path):
    import ganaug
    from ganaug.reporting.figures import Numbering
    from ganaug.reporting.sections.data import data_section

    k = 300
    names = [f"c{i:03d}" for i in range(k)]
    rng = np.random.default_rng(0)
    per_class = [12] * k
    per_class[7], per_class[123] = 4, 60  # one rare class, one large class
    labels = np.repeat(np.arange(k), per_class)
    x = rng.integers(0, 256, (len(labels), 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "many.npz", x=x, y=labels, classes=np.array(names))
    ganaug.prepare(tmp_path / "many.npz", tmp_path / "run" / "prepared")
    sec = data_section(tmp_path / "run", Numbering())
    listed = [r["name"] for r in sec["class_table"] if not r.get("total")]
    assert len(listed) == 40 and sec["classes_hidden"] == k - 40
    assert "c007" in listed and "c123" in listed  # the rarest and the largest are listed
    total = next(r for r in sec["class_table"] if r.get("total"))
    assert total["cells"][0] == f"{len(labels):,}"  # the total still counts every class
