"""Numbers as text: the one place that decides how a value reads in a table, a sentence or a log line.

Plain Python (no numpy, no torch), so the CLI, the metrics summaries, the benchmark prose and the
HTML report can all use it. Missing values (``None``, NaN, infinity) never raise; they become a
marker, an en dash by default, since a table cell or a sentence is no place for a traceback.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "\u2013"  # en dash: a number that is not there, in the HTML report
NA = "n/a"  # the same in plain-text summaries and log lines
MINUS = "\u2212"  # the typographic minus sign, not a hyphen


def finite(v: Any) -> float | None:
    """``v`` as a finite float, or None (JSON null, NaN, infinity, a bool, a string...)."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def number(v: Any, digits: int = 3, signed: bool = False) -> str:
    """Numbers for tables: ints as ints with thousands separators, floats to ``digits`` significant
    digits (scientific notation when far from 1), bools as yes/no, missing as a dash."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:+,d}" if signed else f"{v:,d}"
    f = finite(v)
    if f is None:
        return MISSING if v is None or isinstance(v, (int, float)) else str(v)
    sign = "+" if signed else ""
    if f != 0 and (abs(f) >= 10 ** (digits + 2) or abs(f) < 10 ** -(digits + 1)):
        return f"{f:{sign}.{digits - 1}e}"
    return f"{f:{sign}.{digits}g}"


def fixed(v: Any, decimals: int = 1, signed: bool = False, scale: float = 1.0, missing: str = MISSING) -> str:
    """``v * scale`` with a fixed number of decimals (PRDC values, seconds, percentages)."""
    f = finite(v)
    if f is None:
        return missing
    return f"{f * scale:{'+' if signed else ''}.{decimals}f}"


def percent(v: Any, decimals: int = 0, missing: str = NA) -> str:
    """A fraction as a percentage: 0.25 -> "25%"."""
    f = finite(v)
    return missing if f is None else f"{100 * f:.{decimals}f}%"


def significant(v: Any, digits: int = 4, missing: str = NA) -> str:
    """``v`` to ``digits`` significant digits in Python's general format (log lines, text summaries)."""
    f = finite(v)
    return missing if f is None else f"{f:.{digits}g}"


def with_sd(v: Any, sd: Any, digits: int = 4, sd_digits: int = 2, missing: str = NA) -> str:
    """``v +- sd`` in plain ASCII (the text summaries); the spread only where both are finite."""
    text = significant(v, digits, missing)
    if finite(v) is None or finite(sd) is None:
        return text
    return f"{text} +- {sd:.{sd_digits}g}"


def points(x: Any, signed: bool = False, missing: str = MISSING) -> str:
    """A proportion as percentage points with one decimal and a real minus sign (0.123 -> "12.3")."""
    return fixed(x, 1, signed=signed, scale=100, missing=missing).replace("-", MINUS)


def interval(lo: Any, hi: Any, missing: str = MISSING) -> str:
    """A confidence interval of proportions in points, "[12.3, 45.6]", or the marker when one end is missing."""
    if finite(lo) is None or finite(hi) is None:
        return missing
    return f"[{points(lo)}, {points(hi)}]"


def pvalue(p: Any, missing: str = MISSING) -> str:
    """A p-value as it is usually printed: two significant digits, "< 0.001" below that."""
    f = finite(p)
    if f is None:
        return missing
    return "< 0.001" if f < 0.001 else f"{f:.2g}" if f < 0.1 else f"{f:.2f}"


def duration(seconds: Any) -> str:
    """Seconds for people: "12.3 s", "4 min 05 s", "2 h 03 min"."""
    f = finite(seconds)
    if f is None:
        return MISSING
    if f < 60:
        return f"{f:.1f} s"
    if f < 3600:
        return f"{int(f // 60)} min {int(f % 60):02d} s"
    return f"{int(f // 3600)} h {int(f % 3600 // 60):02d} min"


def rough_duration(seconds: Any) -> str:
    """An estimate for people, rounded: '45 s', '14 min', '3 h 50 min' ('?' when unknown)."""
    seconds = finite(seconds)
    if seconds is None:
        return "?"
    s = max(0, round(seconds))
    if s < 90:
        return f"{s} s"
    minutes = round(s / 60)
    if minutes < 60:
        return f"{minutes} min"
    h, m = divmod(minutes, 60)
    return f"{h} h {m} min" if m else f"{h} h"


def size(n_bytes: float) -> str:
    """A file size: "512 B", "3.4 KB", "1.2 MB", "2.0 GB" (powers of 1024)."""
    n = float(n_bytes)
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
