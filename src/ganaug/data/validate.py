"""What is wrong with a data set, file by file, and a summary of what was loaded.

Loading never crashes on a bad file: every file that cannot be used becomes a :class:`Problem`
with severity ``"skip"`` (left out) and a reason; everything that was used but changed or looks
suspicious (animated GIF, alpha composited, upscaled, duplicate...) is a ``"warning"``.
:func:`ganaug.data.sources.inspect` loads a source and returns an :class:`InspectReport`.
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

SKIP = "skip"
WARNING = "warning"

# kind -> severity. Kinds are stable strings (used in inspect.json and tests).
KINDS = {
    "empty-file": SKIP,  # zero bytes
    "corrupt": SKIP,  # truncated or undecodable image data
    "not-image": SKIP,  # not an image (wrong extension, or not an image extension at all)
    "too-large": SKIP,  # more pixels than PIL.Image.MAX_IMAGE_PIXELS (decompression-bomb guard)
    "unreadable": SKIP,  # OS error reading the file
    "missing-dependency": SKIP,  # e.g. DICOM without pydicom
    "missing-file": SKIP,  # CSV / dataset.json row without a file
    "unlabelled": SKIP,  # file without a label (no CSV row, not in a class folder)
    "bad-label": SKIP,  # a label that is no class index (dataset.json "x", -1, 1.5...)
    "nan-pixels": SKIP,  # NaN or infinite pixel values in an array source
    "animated": WARNING,  # first frame used
    "converted": WARNING,  # mode conversion (alpha, 16-bit, CMYK...)
    "exif-rotated": WARNING,  # EXIF orientation applied
    "upscaled": WARNING,  # smaller than the target resolution
    "duplicate": WARNING,  # same bytes as another file of the same class
    "conflicting-labels": WARNING,  # same bytes as a file of another class
    "conflicting-rows": WARNING,  # a file listed twice in the CSV with different labels
    "mixed-channels": WARNING,  # grayscale and colour images mixed; converted
    "empty-class": WARNING,  # a class folder without any usable image (class dropped)
    "single-class": WARNING,  # only one class: nothing to balance, classifiers cannot train
    "small-class": WARNING,  # too few images for a stratified split
}


@dataclass
class Problem:
    path: str  # the file (or folder / container) concerned
    kind: str  # one of KINDS
    reason: str  # human readable, says what happened
    severity: str = ""  # "skip" or "warning"; derived from kind when empty

    def __post_init__(self) -> None:
        if not self.severity:
            self.severity = KINDS.get(self.kind, WARNING)

    def __str__(self) -> str:
        tag = "SKIP" if self.severity == SKIP else "WARN"
        return f"{tag} {self.path}: {self.reason}"


@dataclass
class InspectReport:
    """Summary of one loaded source: classes, counts, sizes, modes, problems.

    Also the ``report`` of :class:`ganaug.data.sources.LoadResult` (alias ``ValidationReport``).
    """

    source: str
    format: str = ""  # "image-folder", "csv", "stylegan-zip", "idx", "npz", "builtin", ...
    num_files: int = 0  # candidate files / container entries examined
    num_loaded: int = 0  # images in the ImageSet
    class_names: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    resolution: list[int] | None = None  # [H, W] of the loaded images
    channels: int | None = None
    resolution_reason: str = ""
    channels_reason: str = ""
    sizes: dict[str, int] = field(default_factory=dict)  # original "WxH" -> count (usable images)
    modes: dict[str, int] = field(default_factory=dict)  # original PIL mode (or "DICOM", "uint8") -> count
    partition: dict[str, int] = field(default_factory=dict)  # predefined train/test partition sizes
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    # -- derived ---------------------------------------------------------------
    @property
    def ok(self) -> bool:
        """Anything usable was loaded."""
        return self.num_loaded > 0

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == SKIP]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != SKIP]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def imbalance_ratio(self) -> float | None:
        """Largest class count / smallest non-empty class count."""
        nonzero = [v for v in self.counts.values() if v > 0]
        return max(nonzero) / min(nonzero) if nonzero else None

    def problems_of(self, kind: str) -> list[Problem]:
        return [p for p in self.problems if p.kind == kind]

    def add(self, path: str, kind: str, reason: str) -> None:
        self.problems.append(Problem(str(path), kind, reason))

    # -- serialisation ---------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["imbalance_ratio"] = self.imbalance_ratio
        d["num_skipped"] = len(self.skipped)
        d["num_warnings"] = len(self.warnings)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InspectReport:
        d = dict(d)
        for k in ("imbalance_ratio", "num_skipped", "num_warnings"):
            d.pop(k, None)
        d["problems"] = [Problem(**p) for p in d.get("problems", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})

    # -- display ---------------------------------------------------------------
    def summary_lines(self, max_problems: int | None = 50, max_classes: int | None = 30) -> list[str]:
        lines = [
            f"Source: {self.source} ({self.format or 'unknown format'}, {self.num_files} files/entries examined)"
        ]
        if self.ok:
            h, w = self.resolution or (0, 0)
            lines.append(
                f"Loaded: {self.num_loaded} images, {self.num_classes} classes, "
                f"{h}x{w}, {self.channels} channel{'s' if self.channels != 1 else ''}"
            )
            if self.resolution_reason:
                lines.append(f"  resolution: {self.resolution_reason}")
            if self.channels_reason:
                lines.append(f"  channels: {self.channels_reason}")
        else:
            lines.append("Loaded: nothing usable")
        if self.counts:
            lines.append("Classes:")
            width = max(len(n) for n in self.counts)
            top = max(self.counts.values()) or 1
            shown_counts = list(self.counts.items())
            if max_classes is not None and len(shown_counts) > max_classes:
                shown_counts = shown_counts[:max_classes]
                width = max(len(n) for n, _ in shown_counts)
            for name, n in shown_counts:
                bar = "#" * max(1 if n else 0, round(30 * n / top))
                lines.append(f"  {name:<{width}}  {n:>6}  {bar}")
            if len(shown_counts) < len(self.counts):
                small = min(self.counts.values())
                lines.append(
                    f"  ... and {len(self.counts) - len(shown_counts)} more classes (smallest: {small} "
                    "images; --all or --json to see all)"
                )
            ratio = self.imbalance_ratio
            if ratio is not None:
                lines.append(f"Imbalance ratio (largest / smallest class): {ratio:.2f}")
        if self.partition:
            lines.append("Predefined partition: " + ", ".join(f"{k} {v}" for k, v in self.partition.items()))
        if self.sizes:
            lines.append("Sizes (WxH): " + _top(self.sizes))
        if self.modes:
            lines.append("Modes: " + _top(self.modes))
        for note in self.notes:
            lines.append(f"Note: {note}")
        skipped, warnings = self.skipped, self.warnings
        lines.append(f"Problems: {len(skipped)} skipped, {len(warnings)} warnings")
        for group in (skipped, warnings):
            by_kind: dict[str, list[Problem]] = defaultdict(list)
            for p in group:
                by_kind[p.kind].append(p)
            for kind, probs in by_kind.items():
                lines.append(f"  [{kind}] {len(probs)}")
                shown = probs if max_problems is None else probs[:max_problems]
                for p in shown:
                    lines.append(f"    {p}")
                if len(shown) < len(probs):
                    lines.append(f"    ... and {len(probs) - len(shown)} more (--all or --json to see all)")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.summary_lines())

    def __repr__(self) -> str:
        shape = "x".join(str(v) for v in [*(self.resolution or []), self.channels] if v) or "nothing loaded"
        return (
            f"InspectReport({self.source!r}, {self.format or 'unknown format'}: {self.num_loaded} images, "
            f"{self.num_classes} classes, {shape}; {len(self.skipped)} skipped, {len(self.warnings)} warnings)"
        )

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in self.counts.items())
        ratio = self.imbalance_ratio
        probs = "".join(
            f"<tr><td>{e(p.severity)}</td><td>{e(p.kind)}</td><td><code>{e(p.path)}</code></td>"
            f"<td>{e(p.reason)}</td></tr>"
            for p in self.problems[:200]
        )
        more = f"<p>... and {len(self.problems) - 200} more</p>" if len(self.problems) > 200 else ""
        h, w = self.resolution or (0, 0)
        return (
            f"<div><b>{e(self.source)}</b> ({e(self.format)}): {self.num_loaded} images, "
            f"{self.num_classes} classes, {h}x{w}x{self.channels}"
            + (f", imbalance ratio {ratio:.2f}" if ratio is not None else "")
            + f"<table><tr><th>class</th><th>images</th></tr>{rows}</table>"
            + "".join(f"<p>Note: {e(n)}</p>" for n in self.notes)
            + f"<p>{len(self.skipped)} skipped, {len(self.warnings)} warnings</p>"
            + (
                f"<table><tr><th>severity</th><th>kind</th><th>path</th><th>reason</th></tr>{probs}</table>"
                if probs
                else ""
            )
            + more
            + "</div>"
        )


ValidationReport = InspectReport


def _top(counter: dict[str, int], n: int = 6) -> str:
    items = sorted(counter.items(), key=lambda kv: -kv[1])
    s = ", ".join(f"{k} ({v})" for k, v in items[:n])
    return s + (f", ... {len(items) - n} more" if len(items) > n else "")


# ----------------------------------------------------------------------------
# Checks on a loaded set


def find_duplicates(
    hashes: Sequence[str], labels: Sequence[int], paths: Sequence[str], class_names: Sequence[str]
) -> list[Problem]:
    """Same content twice: a warning for each later copy (``duplicate`` within a class,
    ``conflicting-labels`` across classes), naming the first copy."""
    first: dict[str, int] = {}
    problems = []
    for i, h in enumerate(hashes):
        j = first.setdefault(h, i)
        if j == i:
            continue
        if labels[i] == labels[j]:
            problems.append(
                Problem(paths[i], "duplicate", f"same content as {paths[j]} (class {class_names[labels[i]]})")
            )
        else:
            problems.append(
                Problem(
                    paths[i],
                    "conflicting-labels",
                    f"same content as {paths[j]} (class {class_names[labels[j]]!r}) but labelled "
                    f"{class_names[labels[i]]!r} here: conflicting labels",
                )
            )
    return problems


def check_classes(report: InspectReport, min_per_class: int = 5) -> None:
    """Class-level warnings: a single class, very small classes."""
    nonzero = {k: v for k, v in report.counts.items() if v > 0}
    if len(nonzero) == 1:
        report.add(
            report.source,
            "single-class",
            f"only one class ({next(iter(nonzero))!r}): a conditional GAN is pointless and a "
            "classifier cannot be trained; add the other classes",
        )
    for name, n in nonzero.items():
        if n < min_per_class:
            report.add(
                f"{report.source} [{name}]",
                "small-class",
                f"class {name!r} has only {n} image{'s' if n != 1 else ''}; it may get no "
                "validation or test images",
            )


def count(values) -> dict[str, int]:
    return dict(Counter(values).most_common())
