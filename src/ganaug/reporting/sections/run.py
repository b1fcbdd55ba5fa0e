"""Section 5, run information: versions, the pipeline's stages and configuration, the files read."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganaug.formatting import duration, finite, fixed, size
from ganaug.reporting.figures import Numbering
from ganaug.utils import read_json

# What the report reads, listed with size and time when present.
FILES_READ = (
    "pipeline.json",
    "inspect.json",
    "prepared/inspect.json",
    "prepared/split.json",
    "gan/training_options.json",
    "gan/stats.jsonl",
    "synthetic/manifest.csv",
    "evaluate/metrics.json",
    "evaluate/memorization.png",
    "benchmark/results.json",
)


def runinfo_section(run: Path, num: Numbering, version: str, generated: str) -> dict[str, Any]:
    sec: dict[str, Any] = {"id": "run", "title": "Run information"}
    facts = [
        ("run folder", str(run.resolve())),
        ("report generated", generated),
        ("ganaug (report)", version),
    ]
    pj = run / "pipeline.json"
    if pj.exists():
        p = read_json(pj)
        if p.get("version") and p.get("version") != version:
            facts.append(("ganaug (pipeline)", f"{p['version']} (differs from the report's version)"))
        elif p.get("version"):
            facts.append(("ganaug (pipeline)", p["version"]))
        if p.get("config") is not None:
            sec["config"] = json.dumps(p["config"], indent=2, sort_keys=False, default=str)
        rows = _stage_rows(p.get("stages") or {})
        if rows:
            sec["stages"] = rows
            sec["stages_number"] = num.table()
    sec["files"] = _files(run)
    sec["facts"] = facts
    return sec


def _stage_rows(stages: Mapping[str, Any]) -> list[dict[str, str]]:
    """One row per pipeline stage with its status and wall-clock time, then the total."""
    rows = []
    total = 0.0
    for name, rec in stages.items():
        rec = rec if isinstance(rec, Mapping) else {}
        secs = finite(rec.get("seconds"))
        status = str(rec.get("status", "?"))
        if name == "report" and status == "running":
            status = "this page"
        rows.append({"name": name, "status": status, "seconds": fixed(secs, 1), "human": duration(secs)})
        total += secs or 0.0
    if rows:
        rows.append({"name": "total", "status": "", "seconds": fixed(total, 1), "human": duration(total)})
    return rows


def _files(run: Path) -> list[dict[str, str]]:
    files = []
    for rel in FILES_READ:
        f = run / rel
        if f.exists():
            st = f.stat()
            mtime = dt.datetime.fromtimestamp(st.st_mtime).strftime("%Y-%m-%d %H:%M")
            files.append({"name": rel, "size": size(st.st_size), "mtime": mtime})
    return files
