"""The benchmark in words: the verdict, its one-line headline and the text table.

Everything here is generated from :class:`ganaug.benchmarking.BenchmarkResult`'s structured rows
(``choice``, ``comparisons``, ``cautions``); nothing parses prose back. The headline (printed by
``ganaug run``, kept in ``pipeline.json`` and shown in the report's top box) and the full verdict
(``results.json``, ``BenchmarkResult.verdict()``) carry the same primary comparisons and the same
cautions; the full verdict adds the Holm-adjusted secondary comparisons, which the report's box
lists as rows of its table.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, Protocol

from ganaug.formatting import finite, points, pvalue

READING_WORDS = {
    "better": "better",
    "worse": "worse",
    "inconclusive": "inconclusive (the interval contains 0)",
    "no result": "no result",
}
_NONE = "\u2014"  # em dash: no number, in the prose and the text table


class BenchmarkResultLike(Protocol):
    """What the prose reads of a :class:`ganaug.benchmarking.result.BenchmarkResult`.

    A protocol rather than an import: ``BenchmarkResult``'s ``verdict()``, ``headline()`` and ``table()``
    call this module, so importing it back would make a cycle.
    """

    arms: Sequence[Any]
    runs: list[dict[str, Any]]
    summary: dict[str, dict[str, dict[str, float]]]
    seeds: list[int]
    config: dict[str, Any]
    skipped: dict[str, str]
    test_labels: list[int] | None
    choice: dict[str, Any]
    comparisons: list[dict[str, Any]]
    cautions: list[dict[str, Any]]

    def arm(self, name: str | None) -> Any: ...

    def comparison(self, cid: str) -> dict[str, Any] | None: ...


def pts(x: Any, signed: bool = True) -> str:
    """A proportion as percentage points, signed by default; an em dash when missing."""
    return points(x, signed=signed, missing=_NONE)


def ci(c: dict[str, Any]) -> str:
    if finite(c.get("ci_low")) is None:
        return "no interval"
    return f"{int(round(100 * (c.get('confidence') or 0.95)))} % CI [{pts(c['ci_low'], False)}, {pts(c['ci_high'], False)}]"


def _label(res: BenchmarkResultLike, name: str | None) -> str:
    a = res.arm(name)
    return (a.label or a.name) if a else str(name)


def _conf(res: BenchmarkResultLike) -> float:
    return float((res.config or {}).get("confidence", 0.95))


def comparison_phrase(res: BenchmarkResultLike, c: dict[str, Any] | None, what: str) -> str:
    if c is None:
        return f"{what.rstrip(':')}: not run"
    c = {**c, "confidence": _conf(res)}
    if c["reading"] == "no result":
        return f"{what.rstrip(':')}: no result"
    return f"{what} {pts(c['diff'])} points ({ci(c)}): {READING_WORDS[c['reading']]}"


def caution_sentences(res: BenchmarkResultLike) -> list[str]:
    """One sentence per caution, the same in the headline and the full verdict."""
    out = []
    collapsed = [c for c in res.cautions if c["kind"] == "collapsed"]
    if collapsed:
        n = sum(len(c["seeds"]) for c in collapsed)
        where = "; ".join(
            f"{_label(res, c['arm'])}: seed{'s' if len(c['seeds']) > 1 else ''} "
            f"{', '.join(map(str, c['seeds']))}"
            for c in collapsed
        )
        out.append(
            f"Caution: {n} of {len(res.runs)} classifiers predict a single class for every validation "
            f"image ({where}); their test scores are averaged in but mean that training failed."
        )
    for c in res.cautions:
        k = c["kind"]
        if k == "collapsed":
            continue
        elif k == "still_learning":
            out.append(
                f"Caution: in {c['runs']} of {c['of']} runs the best validation checkpoint was the last "
                f"({c['steps']} steps), so the classifiers were probably still learning; re-run with more "
                "epochs or min_steps before trusting a difference."
            )
        elif k == "few_seeds":
            out.append(f"Caution: {c['seeds']} seed(s) only; the seed-to-seed spread is poorly known.")
        elif k == "leak":
            out.append(
                "Warning: some test images are pixel-identical to training or synthetic images ("
                + ", ".join(f"{s}: {n}" for s, n in c["sets"].items())
                + "); the scores are optimistic."
            )
    return out


def _lead(res: BenchmarkResultLike) -> str:
    ref = res.summary.get("real", {}).get("balanced_accuracy", {})
    c = res.comparison("gan_vs_real") or (res.comparisons[0] if res.comparisons else {})
    n_test = c.get("n_test") or len(res.test_labels or [])
    n = len(res.seeds)
    test = f" \u00d7 {n_test:,} test images" if n_test else ""
    return (
        f"Balanced accuracy on the real test split ({n} seed{'s' if n != 1 else ''}{test}; "
        f"real only {pts(ref.get('mean'), False)} %)"
    )


def _primary(res: BenchmarkResultLike) -> list[str]:
    ch = res.choice or {}
    parts = []
    if ch.get("gan_arm"):
        frac = 100 * ch["gan_fraction"]
        parts.append(
            comparison_phrase(
                res,
                res.comparison("gan_vs_real"),
                f"GAN images at {frac:g} % synthetic (the fraction chosen on validation) vs real only:",
            )
        )
        parts.append(
            comparison_phrase(
                res,
                res.comparison("gan_vs_oversampling"),
                "vs random oversampling adding the same number of images per class:",
            )
        )
    else:
        parts.append("no synthetic arm was run")
    if ch.get("best_baseline"):
        b = next((c for c in res.comparisons if c["arm"] == ch["best_baseline"] and c["vs"] == "real"), None)
        parts.append(
            comparison_phrase(
                res,
                b,
                f"best baseline (chosen on validation): {_label(res, ch['best_baseline'])} vs real only:",
            )
        )
    return parts


def _power(res: BenchmarkResultLike) -> str:
    c = res.comparison("gan_vs_real") or res.comparison("gan_vs_oversampling")
    if c is None or finite(c.get("mde")) is None:
        return ""
    return (
        f"This benchmark detects a true difference of about {pts(c['mde'], False)} points with 80 % power; "
        "smaller ones may go unseen."
    )


def _has_results(res: BenchmarkResultLike) -> bool:
    return bool(res.summary.get("real", {}).get("balanced_accuracy", {}).get("n"))


def _secondary(res: BenchmarkResultLike) -> str:
    """The secondary comparisons with Holm-adjusted p-values, one sentence (empty when there are none)."""
    items = []
    for c in res.comparisons:
        if c["role"] == "secondary":
            what = f"{_label(res, c['arm'])} vs {_label(res, c['vs'])}"
            items.append(
                f"{what} {pts(c['diff'])} ({ci({**c, 'confidence': _conf(res)})}, adjusted p "
                f"{pvalue(c.get('p_adjusted'))}): {c['reading']}"
            )
    return (" Secondary comparisons (Holm-adjusted): " + "; ".join(items) + ".") if items else ""


def verdict_parts(res: BenchmarkResultLike, secondary: bool = True) -> tuple[str, str]:
    """(lead, body) with ``verdict(res) == f"{lead}: {body}"``: the report shows them on two lines.
    ``secondary=False``: the body of the headline (the primary comparisons, power and cautions;
    the report's verdict box lists the secondary comparisons in its table instead).

    Without results: ("", "No results.").
    """
    if not _has_results(res):
        return "", "No results."
    body = "; ".join(_primary(res)) + "." + (_secondary(res) if secondary else "")
    return _lead(res), " ".join(x for x in [body, _power(res), *caution_sentences(res)] if x)


def headline(res: BenchmarkResultLike) -> str:
    """One line: the primary comparisons with their intervals, the best baseline, power, cautions."""
    lead, body = verdict_parts(res, secondary=False)
    return f"{lead}: {body}" if lead else body


def verdict(res: BenchmarkResultLike) -> str:
    """The headline plus the secondary comparisons with Holm-adjusted p-values."""
    lead, body = verdict_parts(res)
    return f"{lead}: {body}" if lead else body


# ----------------------------------------------------------------------------
# Table

HEADER = (
    "arm",
    "train imgs",
    "steps",
    "seeds",
    "bal. acc. % [95 % CI]",
    "\u0394 vs real, points [CI]",
    "adj. p",
    "reading",
    "collapsed",
    "acc. %",
    "macro-F1 %",
    "AUROC %",
)


def rows(res: BenchmarkResultLike) -> list[list[str]]:
    out = []
    for arm in res.arms:
        s = res.summary[arm.name]
        b = s["balanced_accuracy"]
        runs = [r for r in res.runs if r["arm"] == arm.name]
        n_train = [r["n_train"] for r in runs if r.get("n_train") is not None]
        steps = sorted({str(r["steps"]) for r in runs if r.get("steps") is not None})
        c = next((c for c in res.comparisons if c["arm"] == arm.name and c["vs"] == "real"), None)
        mean = f"{pts(b['mean'], False)} [{pts(b['ci_low'], False)}, {pts(b['ci_high'], False)}]"
        if arm.name == "real":
            diff, p, reading = "(reference)", "", ""
        elif c is None:
            diff, p, reading = "\u2014", "", ""
        else:
            diff = f"{pts(c['diff'])} [{pts(c['ci_low'], False)}, {pts(c['ci_high'], False)}]"
            p, reading = pvalue(c.get("p_adjusted")), c["reading"]
        if arm.name == (res.choice or {}).get("gan_arm"):
            reading = f"{reading} (GAN arm, primary)"
        collapsed = sum(bool(r.get("collapsed")) for r in runs)
        out.append(
            [
                arm.label or arm.name,
                str(int(sum(n_train) / len(n_train))) if n_train else "\u2014",
                "/".join(steps) or "\u2014",
                str(b["n"]),
                mean,
                diff,
                p,
                reading,
                f"{collapsed}/{len(runs)}" if collapsed else "0",
                pts(s["accuracy"]["mean"], False),
                pts(s["macro_f1"]["mean"], False),
                pts(s["auroc"]["mean"], False),
            ]
        )
    return out


def table(res: BenchmarkResultLike) -> str:
    body = [list(HEADER), *rows(res)]
    widths = [max(len(r[i]) for r in body) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for name, why in (res.skipped or {}).items():
        lines.append(f"skipped {name}: {why}")
    return "\n".join(lines)


def table_html(res: BenchmarkResultLike) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows(res))
    skipped = "".join(
        f"<p>skipped {html.escape(k)}: {html.escape(v)}</p>" for k, v in (res.skipped or {}).items()
    )
    return (
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{skipped}"
        f"<p>{html.escape(verdict(res))}</p>"
    )
