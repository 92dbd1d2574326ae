"""Sentences and help text: what the numbers mean, in words.

Everything a user reads about a result (column help, the one-sentence readings of the
optimal quantile, the stability study and a paired comparison, notes about excluded
prompts and small etas) is written here from the numbers, so the dashboard and the
command line say the same thing.  No computation beyond choosing the words: the
numbers come from :mod:`reta_core.reports`.  Section numbers cite docs/metric.md.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .reports import significant_ranges

NORMALIZATION_LABELS = {"ratio": "ratio to pool mean (paper)", "difference": "difference from pool mean",
                        "raw": "raw top-eta mean", "recovery": "recovery (share of the perfect gain)"}

# How each normalisation compares the top eta with the pool (§3), for help texts.
NORMALIZATION_PHRASES = {
    "ratio": ("as a ratio to the pool mean", "1 = no better than random"),
    "difference": ("as its difference from the pool mean", "0 = no better than random"),
    "raw": ("as is (not compared with the pool mean)", "compare with the pool mean to judge it"),
    "recovery": ("as the share of the perfect ranking's gain over the pool mean",
                 "1 = as good as the oracle, 0 = no better than random"),
}


# What starts Markdown inside a line (CommonMark, GitHub's extensions, raw HTML and
# entities, Streamlit's ``$math$``, ``:emoji:``, ``:red[...]`` and ``:material/...:``):
# escaped with a backslash, which CommonMark allows before any ASCII punctuation.
# ``_`` between letters and ``:`` before a space or the end start nothing and stay.
_MARKDOWN_INLINE = re.compile(
    r"[\\`*\[<&~|$@]"                          # always (``]`` and ``>`` start nothing alone)
    r"|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"     # emphasis: _ not inside a word
    r"|:(?=[^\s])"                              # :emoji:, :red[..], http://
    r"|(?<=www)\.", re.IGNORECASE)             # www.example.com autolinks
# GitHub's literal autolinks are found in the text after escapes are resolved, so an
# invisible word joiner goes where they would start: after ``http``/``https``/``www``
# and ``@``.
WORD_JOINER = "\u2060"
_AUTOLINK = re.compile(r"(?<![A-Za-z0-9])(?:https?|www)(?=\\?[:.])|\\@", re.IGNORECASE)
# What starts a block at the beginning of the text: heading, list, quote, rule, setext.
_MARKDOWN_BLOCK = re.compile(r"^(\s*(?:\d+(?=[.)]))?)([#+\-=>.)])")


def md(value) -> str:
    """``value`` (data: a benchmark, oracle, RM, category or prompt name, a URL
    parameter, a message that quotes them) as literal text in Streamlit Markdown
    (``st.markdown``, ``st.caption``, ``st.info``/``warning``/``error``, titles, metric
    labels, help): line breaks become spaces and every character that could start a
    link, image, autolink, HTML tag or entity, emphasis, code span, math, Streamlit
    directive or block is backslash-escaped (and an invisible word joiner breaks what
    GitHub would autolink: ``http``, ``www``, ``@``), so the text shows as it is.  Intentional
    formatting goes around it: ``f"**{md(name)}**"``."""
    text = re.sub(r"[\r\n\t\f\v\u2028\u2029\x85]+", " ", str(value))
    text = _MARKDOWN_INLINE.sub(lambda m: "\\" + m.group(0), text)
    text = _AUTOLINK.sub(lambda m: m.group(0) + WORD_JOINER, text)
    return _MARKDOWN_BLOCK.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def column_help(normalization: str = "ratio") -> dict[str, str]:
    """One line per leaderboard column, in the words of ``normalization``."""
    how, meaning = NORMALIZATION_PHRASES[normalization]
    counts = "pool mean > 0 for the ratio" if normalization == "ratio" else "any pool mean"
    return {
        "rm": "Reward model (baselines are computed from the pool itself: length and a seeded random scorer).",
        "reta_0.05": f"RETA at eta = 0.05: mean oracle score of the RM's top 5 %, {how} ({meaning}).",
        "reta_0.1": "RETA at eta = 0.1 (top 10 %).",
        "reta_0.25": "RETA at eta = 0.25 (top quarter).",
        "reta_0.5": "RETA at eta = 0.5 (top half).",
        "eta_star": "Optimal quantile eta*: where the RETA curve peaks (ties to the larger eta); select uniformly "
                    "from this top fraction.",
        "reta_at_eta_star": "RETA at eta*: the best the RM's ranking achieves on this pool (the table is sorted by it).",
        "gain": "RETA(eta*) minus RETA at the smallest eta (trusting the RM's top pick); > 0 means the very top is "
                "unreliable.",
        "bon": f"Best-of-n: expected oracle score of the RM's single top pick among n random responses, {how}.",
        "pairwise_accuracy": "Share of response pairs with different oracle scores that the RM orders like the oracle "
                             "(ties count 1/2).",
        "spearman": "Mean per-prompt Spearman rank correlation between RM and oracle scores.",
        "kendall": "Mean per-prompt Kendall tau-b between RM and oracle scores.",
        "n_prompts": f"Prompts that count for this RM (both scores finite, at least 2 responses, {counts}).",
    }


COLUMN_HELP = column_help("ratio")


def band(low: float, high: float, digits: int = 3) -> str:
    """A 95 % band for display: ``0.912–1.034``, or ``-0.944 to -0.673`` when a bound is
    negative (a dash between negative numbers reads as a minus); ``-`` when missing."""
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return "-"
    low, high = _no_negative_zero(low, digits), _no_negative_zero(high, digits)
    if low < 0 or high < 0:
        return f"{low:.{digits}f} to {high:.{digits}f}"
    return f"{low:.{digits}f}–{high:.{digits}f}"


def _no_negative_zero(value: float, digits: int) -> float:
    """``value``, or 0.0 when it would print as ``-0.000``."""
    return 0.0 if round(float(value), digits) == 0 else float(value)


def number(value: float, digits: int = 4, sign: bool = False) -> str:
    """A number for display without ``-0.0000``; ``-`` when missing."""
    if value is None or not np.isfinite(value):
        return "-"
    value = _no_negative_zero(value, digits)
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def optimal_reading(rm: str, eta_star: float, gain: float, relative_gain: float, eta_min: float,
                    gain_ci_low: float | None = None, normalization: str = "ratio",
                    vs_random: str | None = None) -> str:
    """One sentence reading of §7 for one RM, giving selection advice only where the
    numbers support it.

    ``vs_random`` (``reports.versus_random``): when the 95 % band of RETA(eta*) holds
    the random value, the RM is no better than random at any quantile and the reading
    says exactly that (worse, when the band lies below it).  With ``gain_ci_low`` (the
    lower end of the paired bootstrap interval of the gain), a gain whose interval
    reaches 0 is read as noise rather than as a quantile to select from.  The gain is
    relative (a percentage) for the ``ratio`` normalisation only: a ratio of
    differences or of raw means has no meaning, so there it is in the normalisation's
    units."""
    if vs_random in ("no better", "worse"):
        random = f"{RANDOM_TEXT[normalization]}"
        verdict = "no better than" if vs_random == "no better" else "worse than"
        return (f"{rm}: {verdict} random at any quantile: even at its best (top {eta_star:.0%}) the 95 % "
                f"band of its RETA {'includes' if vs_random == 'no better' else 'lies below'} the random "
                f"value ({random}); do not select with it.")
    if eta_star <= eta_min + 1e-12 or gain <= 0:
        return (f"{rm}: trust its top pick: its curve peaks at the smallest eta "
                f"({eta_min:.3g}).")
    if normalization == "ratio":
        gain_text = f"{relative_gain:+.1%}" if abs(relative_gain) < 0.01 else f"{relative_gain:+.0%}"
    else:
        gain_text = f"{gain:+.3g} ({normalization})"
    if gain_ci_low is not None and not gain_ci_low > 0:
        return (f"{rm}: no quantile is clearly better than its top pick: the peak at its top "
                f"{eta_star:.0%} ({gain_text}) is within noise (the gain's 95 % interval includes 0).")
    return (f"{rm}: select uniformly from its top {eta_star:.0%}: "
            f"{gain_text} over its top pick.")


RANDOM_TEXT = {"ratio": "1", "difference": "0", "recovery": "0", "raw": "the pool mean"}
VS_RANDOM_LABELS = {"better": "better than random", "no better": "no better than random",
                    "worse": "worse than random"}


def stability_reading(table: pd.DataFrame) -> str:
    """A one-paragraph reading of a :func:`stability_study` table, from its numbers.

    RETA@eta is compared with BoN@n only where they differ: at sample sizes where
    ``k = ceil(eta n) = 1`` RETA keeps just the top response and *is* BoN@n, and at
    ``n = N`` every resample is the whole pool, so neither has any spread.
    """
    if table.empty:
        return "No results yet."
    reta_name = next(e for e in table["estimator"].unique() if e.startswith("RETA"))
    reta_rows = table[table["estimator"] == reta_name].set_index(["rm", "n"])
    bon_rows = table[table["estimator"] == "BoN@n"].set_index(["rm", "n"])
    both = reta_rows.add_suffix("_reta").join(bon_rows.add_suffix("_bon"), how="inner")
    compared = both[(both["k_reta"] > 1) & (both["std_bon"] > 1e-12)]
    sizes = ", ".join(map(str, sorted(table["n"].unique())))
    # at n = N every resample is the whole pool: no spread, so no standard error to use
    spread = table[table["se"] > 1e-9]
    gap = ((spread["mean"] - spread["exact"]).abs() / spread["se"]).max() if len(spread) else 0.0
    convergence = (f"The resampled means lie within {gap:.1f} standard errors of the exact values of §4 "
                   "(they converge to them as the number of resamples grows).")
    if compared.empty:
        return (f"At every sample size tried (n = {sizes}) {reta_name} keeps only the top response "
                f"(k = 1), so it is BoN@n and the two cannot be told apart; choose a larger eta to "
                f"compare their stability. {convergence}")
    steadier = float((compared["std_reta"] < compared["std_bon"]).mean())
    ratio = float((compared["std_bon"] / compared["std_reta"].replace(0, np.nan)).median())
    n_values = ", ".join(map(str, sorted(compared.index.get_level_values("n").unique())))
    sentences = [
        f"Across {table['rm'].nunique()} RM(s), where {reta_name} averages more than one response "
        f"(n = {n_values}), it varies less between resamples than BoN@n in {steadier:.0%} of the cases "
        f"(median ratio of standard deviations BoN/RETA: {ratio:.2f}).",
    ]
    if steadier >= 0.5:
        sentences.append("This matches the paper's stability claim: averaging over a top quantile steadies "
                         "an evaluation that has only a few responses per prompt.")
    else:
        sentences.append("On this data the paper's stability claim does not hold for most settings.")
    sentences.append(convergence)
    return " ".join(sentences)


def significance_reading(comparison: pd.DataFrame) -> str:
    """One sentence from :func:`significant_ranges`, e.g. ``"A is significantly better
    than B for eta in [0.02, 0.31]."``  A claim over a range of etas rests on the
    simultaneous band (§6) when the comparison has it."""
    t = comparison
    rm_a, rm_b = str(t["rm_a"].iloc[0]), str(t["rm_b"].iloc[0])
    ranges = significant_ranges(comparison)
    band = ("the simultaneous 95 % band over the grid" if "sim_low" in comparison
            else "the 95 % interval")
    if not ranges:
        return (f"The difference between {rm_a} and {rm_b} is not significant at any eta of the grid "
                f"({band} always includes 0).")
    parts = []
    for better in (rm_a, rm_b):
        spans = [r for r in ranges if r["better"] == better]
        if spans:
            where = [f"eta in [{r['eta_low']:.3g}, {r['eta_high']:.3g}]" if r["eta_low"] < r["eta_high"]
                     else f"eta = {r['eta_low']:.3g}" for r in spans]
            where = ", ".join(where[:-1]) + " and " + where[-1] if len(where) > 1 else where[0]
            worse = rm_b if better == rm_a else rm_a
            parts.append(f"{better} is significantly better than {worse} for {where}")
    return "; ".join(parts) + f" ({band} excludes 0); elsewhere the difference is not significant."


PROMPT_ORDER_LABELS = {  # the labels of prompts.PROMPT_ORDERS
    "reta": "lowest per-prompt RETA first",
    "shortfall": "largest shortfall from the perfect ranking first",
    "gap": "largest RETA gap between the two RMs first",
    "overlap": "smallest overlap of the two RMs' top eta first",
    "prompt": "prompt order",
}


def fmt_eta(eta: float) -> str:
    """An eta for display: three significant digits."""
    return f"{eta:.3g}"


def min_eta_note(min_pool: int) -> str:
    """Why values below ``1/min N`` are the top-1 value (§3)."""
    return (f"Below eta = 1/{min_pool} = {1 / min_pool:.3g} the smallest pools hold less than one "
            "response in the top eta, so the estimate there is the top-1 value.")


def no_bon_note(rms, n: int, remedy: str) -> str:
    """Why an RM's BoN@n is missing: every prompt has fewer than ``n`` responses scored by
    both it and the oracle, and such prompts do not count for §4's estimator; ``remedy``
    says where a smaller n is chosen."""
    return (f"BoN@{n} is undefined for {', '.join(rms)}: no prompt has n = {n} responses scored by "
            f"both the RM and the oracle (docs/metric.md §4); {remedy}.")


def excluded_summary(excluded: pd.DataFrame) -> str:
    """'Prompts that do not count (for at least one RM): 12 prompts: <reason>.' (§1)."""
    if excluded.empty:
        return "Every prompt counts for every chosen RM."
    per_reason = excluded.groupby("reason")["n_prompts"].max()
    parts = [f"{int(n)} prompt{'s' if n != 1 else ''}: {reason}" for reason, n in per_reason.items()]
    return "Prompts that do not count (for at least one RM): " + "; ".join(parts) + "."


def excluded_lines(excluded: pd.DataFrame) -> list[str]:
    """One line per RM and exclusion reason (§1: never silent), for the command line."""
    lines = []
    for row in excluded.itertuples(index=False):
        count = int(row.n_prompts)
        lines.append(f"{row.rm}: {count:,} prompt{'s do' if count != 1 else ' does'} not count "
                     f"({row.reason})")
    return lines


def reliability_reading(dips: pd.DataFrame, bins: int) -> str:
    """The reliability map in words (§8), from ``reports.top_dips``: a dip at the top is
    called out only where it lies outside the bands' noise."""
    if dips.empty:
        return (f"No RM's top bin (its top {100 / bins:.3g} %) lies significantly below the next bins of its "
                "top quarter: no dip at the top beyond the 95 % bands' noise.")
    parts = [f"{r.rm} (top bin {r.top_mean:.2f}, band up to {r.top_high:.2f}, below bin {r.peak_bin + 1}'s "
             f"{r.peak_mean:.2f}, band from {r.peak_low:.2f})" for r in dips.itertuples()]
    return ("Dip at the top, outside the 95 % bands: " + "; ".join(parts)
            + ". These RMs' very top picks are worse than their next ones: a sign of reward hacking.")


def recovery_hint(oracle: str) -> str:
    """Why to prefer recovery when the oracle's scale has no meaningful zero (§3)."""
    return (f"The oracle {oracle} never comes near 0 (e.g. a 1-10 rating), so the ratio's reading "
            "'1.3 = 30 % better than random' depends on where its scale starts. The recovery "
            "normalisation (the share of the perfect ranking's gain) does not: prefer it here.")
