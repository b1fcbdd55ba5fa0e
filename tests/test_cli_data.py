"""`ganaug inspect` and `ganaug prepare` through click's runner."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from ganaug.cli import cli


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_inspect_lists_every_bad_file(tmp_path, write_png, bad_files):
    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    for i in range(20):
        write_png(
            data / ("left" if i < 12 else "right") / f"good{i}.png", rng.integers(0, 256, (16, 16), np.uint8)
        )
    files = bad_files(data / "right")
    files["duplicate"] = data / "left" / "copy_of_good0.png"
    shutil.copy(data / "left" / "good0.png", files["duplicate"])
    files["conflict"] = data / "right" / "also_good1.png"
    shutil.copy(data / "left" / "good1.png", files["conflict"])
    files["readme"] = data / "left" / "README.txt"
    files["readme"].write_text("notes")
    (data / "hats").mkdir()
    before = tree_digest(data)
    result = CliRunner().invoke(cli, ["inspect", str(data), "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert tree_digest(data) == before
    expected = {
        "empty": "empty file (0 bytes)",
        "truncated": "cannot decode",
        "text": "not an image",
        "huge": "decompression-bomb guard",
        "animated": "first frame used",
        "exif": "EXIF orientation 6 applied",
        "rgba": "alpha composited on white",
        "16bit": "rescaled min..max to 8 bit",
        "small": "upscaled",
        "duplicate": "same content as",
        "conflict": "(class 'left') but labelled 'right' here",
        "readme": "not an image file extension (.txt)",
    }
    lines = out.splitlines()
    for key, reason in expected.items():
        path = str(files[key])
        assert any(path in line and reason in line for line in lines), (key, out)
    assert any("hats" in line and "no usable images; dropped" in line for line in lines)
    assert "Loaded: 27 images, 2 classes, 16x16, 1 channel" in out
    assert "Problems: 5 skipped, 8 warnings" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["num_loaded"] == 27 and report["counts"] == {"left": 13, "right": 14}
    # prepare never touches the data folder either.
    r = CliRunner().invoke(cli, ["prepare", str(data), "--out", str(tmp_path / "prep")])
    assert r.exit_code == 0, r.output
    assert "5 file(s) skipped" in r.output and "total" in r.output
    assert tree_digest(data) == before


def test_inspect_nothing_usable(tmp_path, bad_files):
    files = bad_files(tmp_path / "data" / "x")
    for k in ("animated", "exif", "rgba", "16bit", "small"):
        files[k].unlink()
    result = CliRunner().invoke(cli, ["inspect", str(tmp_path / "data")])
    assert result.exit_code != 0
    assert "no usable images" in result.output
    assert str(files["empty"]) in result.output  # the list is still printed
    missing = CliRunner().invoke(cli, ["inspect", str(tmp_path / "nope")])
    assert missing.exit_code != 0 and "does not exist" in missing.output


def test_prepare_cli(tmp_path):
    out = tmp_path / "prep"
    runner = CliRunner()
    r = runner.invoke(
        cli,
        [
            "prepare",
            "--builtin",
            "fashion-demo",
            "--out",
            str(out),
            "--imbalance",
            "shirt=12",
            "--resolution",
            "32",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "shirt" in r.output and (out / "split.json").exists()
    split = json.loads((out / "split.json").read_text())
    assert split["options"]["counts"]["train"]["shirt"] == 12
    assert split["options"]["counts"]["test"] == {"tshirt": 500, "pullover": 500, "shirt": 500}
    r = runner.invoke(
        cli,
        [
            "prepare",
            "--builtin",
            "fashion-demo",
            "--out",
            str(out),
            "--imbalance",
            "shirt=12",
            "--resolution",
            "32",
        ],
    )
    assert r.exit_code == 0 and "(reused)" in r.output
    r = runner.invoke(cli, ["prepare", "--builtin", "fashion-demo", "--out", str(out), "--seed", "3"])
    assert r.exit_code != 0 and "--overwrite" in r.output
    r = runner.invoke(cli, ["prepare", "--out", str(out)])
    assert r.exit_code != 0 and "DATA or --builtin" in r.output


def test_inspect_json_to_unwritable_path_is_a_clear_error(tmp_path, write_png):
    # Regression: an OSError traceback.
    write_png(tmp_path / "data" / "a" / "0.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "afile").write_text("x")
    r = CliRunner().invoke(
        cli, ["inspect", str(tmp_path / "data"), "--json", str(tmp_path / "afile" / "r.json")]
    )
    assert r.exit_code != 0 and "cannot write the JSON report" in r.output
    assert not isinstance(r.exception, OSError)
