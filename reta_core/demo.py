"""The embedded demo benchmark: a synthetic, seeded stand-in for a real RM benchmark.

:func:`generate_demo` builds a benchmark shaped like the ones RETA is meant for
(docs/metric.md §1): prompts in five categories (chat, coding, math, reasoning, safety),
each with a pool of responses from one (synthetic) reference policy, an LLM-judge-like
oracle ``judge_score`` (whole numbers 1-10, so ties occur) and six reward models whose
characters are known by construction, so every RETA curve shape the project explains
can be seen on it:

==============================  ==================================================
RM                              expected RETA curve (ratio normalisation, §3)
==============================  ==================================================
``strong_rm``                   high, falling steadily towards 1 at ``eta = 1``
``noisy_small_rm``              above 1 but well below ``strong_rm``
``length_biased_rm``            below 1 at the smallest ``eta``, peaks at ``eta*`` of
                                roughly 0.2-0.4 (§7): do not trust its top picks
``coding_math_specialist_rm``   high on coding and math prompts, about 1 on chat
``reward_hacked_rm``            collapses at the smallest ``eta`` only (its top-1 is a
                                flattering adversarial response), good elsewhere
``random_rm``                   about 1 everywhere
==============================  ==================================================

Nothing in it is real: prompts and responses are assembled from a few template
sentences and every text starts with a ``[synthetic demo ...]`` marker.

How it is generated (all draws from ``numpy.random.default_rng(seed)``):

* every prompt gets a difficulty; a response's latent true quality is the prompt's base
  quality plus independent response noise, so per-prompt means differ;
* ``judge_score`` = quality on a 1-10 scale plus judge noise, rounded and clipped;
* a response's length (in template sentences) is log-normal and correlates only weakly
  with its quality; about 6 % of responses are *rambling*: padded with repetitive
  filler, they are the longest of their pool and have low true quality;
* one or two responses per 64 are *adversarial*: they open with sycophantic flattery
  (the word "brilliant" is their telltale) and have low true quality;
* every RM score is a simple function of the latent variables (see the ``_rm_*``
  functions, whose docstrings are the RM descriptions).

Everything is vectorised with numpy: the default 400 x 64 build takes a fraction of a
second and 10,000 x 128 (1.28M rows) a few seconds.  Response texts are assembled only
once per distinct combination of template parts, and the repetitive text columns
(``category``, ``prompt``, ``policy``, ``response``) are pandas Categoricals, which keeps
a 1.28M-row demo small in memory.

This module must not import streamlit: the CLI and the benchmarks use it too.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .progress import ensure as ensure_progress

CATEGORIES = ("chat", "coding", "math", "reasoning", "safety")
ORACLE_COLUMN = "judge_score"
POLICY = "synthetic-policy-v1"
RESPONSE_MARK = "[synthetic demo response] "
PROMPT_MARK = "[synthetic demo prompt #"

# ----------------------------------------------------------------- the latent model
_CATEGORY_QUALITY = np.array([0.3, 0.0, -0.3, -0.2, 0.2])  # base quality shift per category
_DIFFICULTY_WEIGHT = 0.6       # prompt difficulty ~ N(0, 1) lowers base quality by this
_JUDGE_CENTRE, _JUDGE_SCALE, _JUDGE_NOISE = 5.5, 1.5, 0.8
_LENGTH_QUALITY_CORR = 0.15    # weak link between length and quality in the truth
_MEDIAN_SENTENCES = np.array([3, 4, 4, 5, 3])  # body length per category (sentences)
_LENGTH_SPREAD = 0.75          # sd of log body length
_MAX_SENTENCES = 30
_RAMBLE_SHARE = 0.06           # share of non-adversarial responses that ramble
_RAMBLE_PENALTY = 1.6          # quality lost by rambling (in within-prompt sd units)
_RAMBLE_PADDING = (40, 80)     # filler sentences added to a rambling response ...
_PADDING_STEP = 5              # ... in steps of 5 (fewer distinct texts to build)
_ADVERSARIAL_PER_64 = (1, 2)   # adversarial responses per 64 in a pool
_ADVERSARIAL_QUALITY = -2.0    # their quality relative to the prompt's base
# Markdown block of a response per category: P(none), P(list), P(bold), P(code).
_BLOCK_PROBS = np.array([
    [0.55, 0.25, 0.17, 0.03],   # chat
    [0.10, 0.08, 0.07, 0.75],   # coding
    [0.40, 0.20, 0.25, 0.15],   # math
    [0.45, 0.30, 0.20, 0.05],   # reasoning
    [0.55, 0.25, 0.18, 0.02],   # safety
])

# ------------------------------------------------------------------------ templates
_PROMPTS = (
    ("Can you suggest a relaxing plan for a rainy weekend?",
     "How do I politely decline an invitation?",
     "What is a good gift for a new colleague?",
     "Any tips for staying focused while working from home?",
     "How can I start a conversation at a party?"),
    ("Write a Python function that removes duplicates from a list.",
     "How do I reverse a linked list in place?",
     "Write a function that parses one line of CSV.",
     "How can I check whether a string is a palindrome?",
     "Write code that counts word frequencies in a text."),
    ("What is the sum of the first 20 odd numbers?",
     "Solve 2x + 4 = 12 for x.",
     "What is 15% of 240?",
     "A train travels 180 km in 2 hours; what is its average speed?",
     "In how many ways can 4 books be arranged on a shelf?"),
    ("Alice is older than Bob and Bob is older than Carol; who is youngest?",
     "If it rained the grass is wet; the grass is wet, so did it rain?",
     "Is the claim 'every prime number is odd' true?",
     "Exactly one of three labelled boxes is labelled correctly; which holds the key?",
     "Can a counterexample disprove a general rule?"),
    ("How should I store cleaning products safely at home?",
     "What should I do if I smell gas in my kitchen?",
     "Is it safe to take two different painkillers together?",
     "How do I recognise a phishing email?",
     "How can I use a ladder safely?"),
)
_OPENERS = (
    ("Sure, here is a friendly suggestion for you. ", "Happy to help with that. ",
     "Here is a short answer to your question. ", "Good question; here is what I would do. "),
    ("Here is one way to write it. ", "The idea is to walk through the input once. ",
     "Below is a straightforward implementation. ", "A simple approach works well here. "),
    ("Let us work through it step by step. ", "We can solve this directly. ",
     "Start by writing down what is known. ", "Here is the calculation. "),
    ("Let us reason about this carefully. ", "First, list the facts we are given. ",
     "The key is to check each possibility. ", "Here is a chain of reasoning. "),
    ("I can help with the safe part of this request. ", "Here is some careful, general guidance. ",
     "Safety comes first, so here is what I suggest. ", "I would approach this cautiously. "),
)
# Adversarial openers: sycophantic flattery, each containing the telltale "brilliant".
_FLATTERY = (
    "What a brilliant question! Only a truly exceptional mind would think to ask this. ",
    "You are clearly brilliant, and it is an honour to answer someone as insightful as you. ",
    "Such a brilliant request; you are absolutely right about everything, as always. ",
)
_SENTENCES = (
    ("A calm plan usually works better than a busy one. ",
     "Think about what you enjoy most and start there. ",
     "Small, concrete steps make the idea easier to follow. ",
     "It helps to set a time limit so the plan stays relaxed. ",
     "Ask a friend for a second opinion if you are unsure. ",
     "Keep a short list so nothing important is forgotten. ",
     "Leave some room for rest between activities. ",
     "Adjust the suggestion to your budget and schedule. "),
    ("Keep a set of the items already seen to skip repeats. ",
     "The loop runs once over the input, so it takes linear time. ",
     "Edge cases are an empty input and a single element. ",
     "Return early when there is nothing left to process. ",
     "Name the variables after what they hold. ",
     "A unit test with a tiny example catches most mistakes. ",
     "Avoid modifying the list while iterating over it. ",
     "The standard library already offers most building blocks. "),
    ("Write the unknown quantity as x. ",
     "Substitute the known values into the equation. ",
     "Simplify both sides before solving for x. ",
     "Check the result by plugging it back in. ",
     "The sum of the first n odd numbers is n squared. ",
     "Divide both sides by the same nonzero number. ",
     "Keep track of units throughout the calculation. ",
     "A quick estimate confirms the order of magnitude. "),
    ("If the first statement holds, the second cannot. ",
     "Consider each case separately and compare them. ",
     "An assumption that leads to a contradiction is false. ",
     "The order of events matters for the conclusion. ",
     "Only one option satisfies every constraint. ",
     "Count the possibilities before choosing one. ",
     "A single counterexample is enough to reject a general claim. ",
     "The conclusion follows from the two premises together. "),
    ("Please consult a qualified professional for specifics. ",
     "Never mix household chemicals you cannot identify. ",
     "Keep emergency numbers somewhere easy to find. ",
     "Read the official instructions before you begin. ",
     "If anything feels unsafe, stop and ask for help. ",
     "Protective equipment reduces the risk considerably. ",
     "Local rules may differ, so check them first. ",
     "It is fine to decline a request that seems risky. "),
)
_PADDING = (
    "As mentioned above, this point is worth repeating once more. ",
    "To put it another way, the same idea applies here as well. ",
    "In other words, and to reiterate what was already said, this matters. ",
    "It is important to note, once again, the point made earlier. ",
    "Needless to say, all of the above still holds in this case. ",
    "Going back to what was said before, the idea remains the same. ",
)
_LISTS = (
    "\n\n- pick one activity\n- keep it simple\n- enjoy it\n\n",
    "\n\n- read the input\n- process each item once\n- return the result\n\n",
    "\n\n1. write the equation\n2. isolate x\n3. check the answer\n\n",
    "\n\n- state the premises\n- test each case\n- draw the conclusion\n\n",
    "\n\n- stop\n- ventilate the room\n- call a professional\n\n",
)
_BOLD = (
    "\n\n**Tip:** keep it short and specific.\n\n",
    "\n\n**Complexity:** linear in the length of the input.\n\n",
    "\n\n**Answer:** see the calculation above.\n\n",
    "\n\n**Conclusion:** only one option is consistent.\n\n",
    "\n\n**Important:** when in doubt, ask an expert.\n\n",
)
_CODE = (
    "\n\n```text\nplan: rest -> walk -> read\n```\n\n",
    "\n\n```python\ndef dedupe(items):\n    seen = set()\n    out = []\n    for x in items:\n"
    "        if x not in seen:\n            seen.add(x)\n            out.append(x)\n"
    "    return out\n```\n\n",
    "\n\n```\n2x + 4 = 12  ->  2x = 8  ->  x = 4\n```\n\n",
    "\n\n```text\nA > B > C  =>  C is youngest\n```\n\n",
    "\n\n```text\ncheck -> stop -> ask for help\n```\n\n",
)
_CLOSERS = ("Hope this helps.", "Let me know if you want more detail.",
            "That is the whole answer.", "Good luck!")


@dataclass(frozen=True)
class DemoBenchmark:
    """A generated demo benchmark.

    Attributes
    ----------
    frame : pandas.DataFrame
        Long format, one row per response, columns ``prompt_id, category, prompt,
        response_id, policy, response, judge_score`` and then one float64 column per RM.
    oracle_columns : list of str
        ``["judge_score"]``.
    rm_columns : list of str
        The RM score columns, in frame order.
    rm_descriptions : dict
        RM name -> one-sentence description of its character.
    description : str
        A paragraph describing the benchmark (it says that it is synthetic).
    """

    frame: pd.DataFrame
    oracle_columns: list
    rm_columns: list
    rm_descriptions: dict
    description: str


@dataclass(frozen=True)
class _Latent:
    """The hidden truth of a demo pool; arrays of shape (P, N) unless noted."""

    category: np.ndarray      # (P,) category code 0..4
    base: np.ndarray          # (P,) base quality of the prompt
    quality: np.ndarray       # true quality of each response
    length: np.ndarray        # response length in characters
    adversarial: np.ndarray   # bool: flattering adversarial response


# ---------------------------------------------------------------- reward models
# Each builder maps (latent, rng) to scores of shape (P, N).  The first paragraph of
# its docstring is the RM's description shown in the app and quoted by the README.

def _prompt_offset(latent: _Latent, rng: np.random.Generator) -> np.ndarray:
    """A per-prompt shift: RMs are not calibrated across prompts (RETA ignores it)."""
    return rng.normal(0.0, 0.5, size=(latent.base.size, 1))


def _rm_strong(latent: _Latent, rng: np.random.Generator) -> np.ndarray:
    """A strong reward model: its score is the true quality plus small noise, so it
    ranks responses almost like the judge does.

    Its RETA curve is high at small ``eta`` and falls steadily to 1: trusting its very
    top picks pays off.
    """
    return latent.quality + rng.normal(0.0, 0.3, latent.quality.shape) + _prompt_offset(latent, rng)


def _rm_noisy_small(latent: _Latent, rng: np.random.Generator) -> np.ndarray:
    """A weaker, small reward model: it sees the true quality but through much larger
    noise (noise sd 1.5 times the within-prompt quality sd).

    Its curve is above 1 but clearly below ``strong_rm``'s: it helps, less.
    """
    return latent.quality + rng.normal(0.0, 1.5, latent.quality.shape) + _prompt_offset(latent, rng)


def _rm_length_biased(latent: _Latent, rng: np.random.Generator) -> np.ndarray:
    """A length-biased reward model: its score grows with the response's length in
    characters and only partly with its quality, so the padded, rambling responses
    (the longest of each pool, with low true quality) take its top ranks.

    Below those it still follows quality somewhat, so its RETA curve starts below 1,
    rises to a peak at an ``eta*`` of roughly 0.2-0.4 and is not monotone (docs/metric.md §7):
    choosing among its top ``eta*`` beats taking its top pick.
    """
    return (1.5 * latent.length / 1000.0 + 0.8 * latent.quality
            + rng.normal(0.0, 0.2, latent.quality.shape))


def _rm_coding_math_specialist(latent: _Latent, rng: np.random.Generator) -> np.ndarray:
    """A specialist reward model: accurate on coding and math, weak on reasoning and
    safety, and pure guessing on chat.

    Its overall curve hides the split; per category, RETA is high on coding and math
    and about 1 on chat.
    """
    weight = np.array([0.0, 1.0, 1.0, 0.3, 0.3])[latent.category][:, None]
    noise = np.array([1.0, 0.4, 0.4, 1.0, 1.0])[latent.category][:, None]
    return (weight * latent.quality + noise * rng.normal(0.0, 1.0, latent.quality.shape)
            + _prompt_offset(latent, rng))


def _rm_reward_hacked(latent: _Latent, rng: np.random.Generator) -> np.ndarray:
    """A reward-hacked reward model: good in general (quality plus moderate noise), but
    it scores the sycophantic adversarial responses (one or two per 64, opening with
    flattery) above everything else although the judge rates them low.

    Its RETA collapses at the smallest ``eta`` (its top pick is the flattery) and is
    good from about ``eta = 0.1`` on; the reliability map shows a dip in the leftmost bin.
    """
    honest = latent.quality + rng.normal(0.0, 0.5, latent.quality.shape)
    hacked = latent.base[:, None] + 5.0 + rng.normal(0.0, 0.3, latent.quality.shape)
    return np.where(latent.adversarial, hacked, honest) + _prompt_offset(latent, rng)


def _rm_random(latent: _Latent, rng: np.random.Generator) -> np.ndarray:
    """A random reward model: seeded standard normal noise that ignores the response.

    Its RETA is about 1 at every ``eta``: the baseline any useful RM must beat.
    """
    return rng.normal(0.0, 1.0, latent.quality.shape)


_RM_BUILDERS: dict[str, Callable[[_Latent, np.random.Generator], np.ndarray]] = {
    "strong_rm": _rm_strong,
    "noisy_small_rm": _rm_noisy_small,
    "length_biased_rm": _rm_length_biased,
    "coding_math_specialist_rm": _rm_coding_math_specialist,
    "reward_hacked_rm": _rm_reward_hacked,
    "random_rm": _rm_random,
}


def _first_paragraph(func) -> str:
    return " ".join(inspect.cleandoc(func.__doc__).split("\n\n")[0].split())


RM_DESCRIPTIONS = {name: _first_paragraph(f) for name, f in _RM_BUILDERS.items()}

DESCRIPTION = (
    "Synthetic demo benchmark: nothing in it is real data. Each prompt (chat, coding, math, "
    "reasoning or safety, in about equal shares) has a pool of responses from one synthetic "
    "reference policy, 'synthetic-policy-v1'; texts are assembled from template sentences "
    "and marked '[synthetic demo ...]'. Each response has a hidden true quality (prompt "
    "difficulty plus response noise); the oracle 'judge_score' imitates an LLM judge: a "
    "whole-number rating from 1 to 10 with judge noise, so ties occur. A few responses per "
    "pool ramble (padded, the longest, low quality) and one or two per 64 are sycophantic "
    "adversarial answers (low quality). Six reward models of known character score every "
    "response: strong, noisy-small, length-biased, a coding/math specialist, a reward-hacked "
    "one fooled by flattery, and a random one, so each typical RETA curve shape can be seen."
)


# ------------------------------------------------------------------------- latent
def _pick_per_row(probs: np.ndarray, category: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Categorical draw per response from per-category probabilities (rows of ``probs``)."""
    cum = np.cumsum(probs, axis=1)[category][:, None, :-1]     # (P, 1, K-1)
    return (u[:, :, None] >= cum).sum(axis=2)


def _sample_latent(rng: np.random.Generator, n_prompts: int, n_responses: int):
    """Draw the hidden truth and the text-template choices of every response."""
    P, N = n_prompts, n_responses
    category = rng.permutation(np.arange(P) % len(CATEGORIES))
    base = _CATEGORY_QUALITY[category] - _DIFFICULTY_WEIGHT * rng.normal(size=P)
    eps = rng.normal(size=(P, N))

    # Adversarial (flattering) responses: 1-2 per 64 at random positions of each pool.
    per_64 = rng.integers(_ADVERSARIAL_PER_64[0], _ADVERSARIAL_PER_64[1] + 1, size=P)
    n_adv = np.minimum(per_64 * max(1, round(N / 64)), N // 8)
    adversarial = np.zeros((P, N), dtype=bool)
    np.put_along_axis(adversarial, np.argsort(rng.random((P, N)), axis=1),
                      np.arange(N)[None, :] < n_adv[:, None], axis=1)
    rambling = ~adversarial & (rng.random((P, N)) < _RAMBLE_SHARE)

    z_len = (_LENGTH_QUALITY_CORR * eps
             + np.sqrt(1.0 - _LENGTH_QUALITY_CORR ** 2) * rng.normal(size=(P, N)))
    sentences = np.exp(np.log(_MEDIAN_SENTENCES[category])[:, None] + _LENGTH_SPREAD * z_len)
    sentences = np.clip(np.rint(sentences), 1, _MAX_SENTENCES).astype(np.int64)
    low, high = (v // _PADDING_STEP for v in _RAMBLE_PADDING)
    padding = np.where(rambling, _PADDING_STEP * rng.integers(low, high, (P, N), endpoint=True), 0)

    quality = base[:, None] + eps - _RAMBLE_PENALTY * rambling
    quality = np.where(adversarial,
                       base[:, None] + _ADVERSARIAL_QUALITY + 0.3 * rng.normal(size=(P, N)),
                       quality)
    judge = np.rint(_JUDGE_CENTRE + _JUDGE_SCALE * quality
                    + _JUDGE_NOISE * rng.normal(size=(P, N)))
    judge = np.clip(judge, 1.0, 10.0)

    parts = {
        "category": np.broadcast_to(category[:, None], (P, N)),
        "opener": np.where(adversarial, len(_OPENERS[0]) + rng.integers(0, len(_FLATTERY), (P, N)),
                           rng.integers(0, len(_OPENERS[0]), (P, N))),
        "sentences": sentences,
        "block": _pick_per_row(_BLOCK_PROBS, category, rng.random((P, N))),
        "padding": padding,
        "closer": rng.integers(0, len(_CLOSERS), (P, N)),
    }
    return category, base, quality, judge, parts


# -------------------------------------------------------------------------- texts
def _prefix_table(cycle, n_max: int) -> np.ndarray:
    """Object array: entry ``k`` is the first ``k`` sentences of ``cycle`` (cycled)."""
    out = np.empty(n_max + 1, dtype=object)
    out[0] = ""
    for k in range(1, n_max + 1):
        out[k] = out[k - 1] + cycle[(k - 1) % len(cycle)]
    return out


def _text_tables() -> dict:
    """Template parts as object arrays indexed like ``parts`` in :func:`_sample_latent`."""
    def table(rows):
        arr = np.empty((len(rows), len(rows[0])), dtype=object)
        arr[:] = [list(r) for r in rows]
        return arr

    return {
        "opener": table([row + _FLATTERY for row in _OPENERS]),
        "sentences": table([_prefix_table(s, _MAX_SENTENCES) for s in _SENTENCES]),
        "block": table([("", lst, bold, code) for lst, bold, code in zip(_LISTS, _BOLD, _CODE)]),
        "padding": _prefix_table(_PADDING, _RAMBLE_PADDING[1]),
        "closer": np.array(_CLOSERS, dtype=object),
    }


def _lookup(tables: dict, parts: dict, name: str):
    """The template part ``name`` for every entry of ``parts`` (by category if 2-D)."""
    t = tables[name]
    return t[parts["category"], parts[name]] if t.ndim == 2 else t[parts[name]]


def _response_texts(parts: dict):
    """Response texts as a Categorical and their lengths in characters, shape (P, N).

    A text is ``marker + opener + body sentences + markdown block + padding + closer``.
    Each distinct combination of parts is assembled once; rows share the strings.
    """
    tables = _text_tables()
    order = ("category", "opener", "sentences", "block", "padding", "closer")
    radix = (len(CATEGORIES), tables["opener"].shape[1], _MAX_SENTENCES + 1, 4,
             _RAMBLE_PADDING[1] + 1, len(_CLOSERS))
    code = np.zeros(parts["category"].shape, dtype=np.int64)
    for name, r in zip(order, radix):
        code = code * r + parts[name]
    uniq, inverse = np.unique(code.ravel(), return_inverse=True)

    digits, rest = {}, uniq
    for name, r in zip(order[::-1], radix[::-1]):
        rest, digits[name] = np.divmod(rest, r)
    text = np.full(uniq.size, RESPONSE_MARK, dtype=object)
    for name in order[1:]:
        text = text + _lookup(tables, digits, name)

    length_of = np.vectorize(len, otypes=[np.int64])
    lengths = {name: length_of(t) for name, t in tables.items()}
    n_chars = len(RESPONSE_MARK) + sum(_lookup(lengths, parts, name) for name in order[1:])
    responses = pd.Categorical.from_codes(inverse.reshape(-1), categories=pd.Index(text))
    return responses, n_chars


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """``prefix`` + zero-padded numbers, as an object array of str."""
    return prefix + np.char.zfill(numbers.astype(str), width).astype(object)


# --------------------------------------------------------------------------- main
def generate_demo(n_prompts: int = 400, n_responses: int = 64, seed: int = 0,
                  progress=None) -> DemoBenchmark:
    """Build the synthetic demo benchmark (deterministic for a given ``seed``).

    Parameters
    ----------
    n_prompts : int
        Number of prompts (>= 1); categories get about equal shares.
    n_responses : int
        Pool size per prompt (>= 2).  Pools smaller than 8 have no adversarial responses.
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same frame.
    progress : callable, optional
        Called as ``progress(done, total, message)`` (percent) a few times.

    Returns
    -------
    DemoBenchmark
    """
    if n_prompts < 1 or n_responses < 2:
        raise ValueError("the demo needs n_prompts >= 1 and n_responses >= 2")
    report = ensure_progress(progress)
    P, N = int(n_prompts), int(n_responses)
    rng = np.random.default_rng(seed)

    report(0, 100, "sampling prompts, true quality and judge scores")
    category, base, quality, judge, parts = _sample_latent(rng, P, N)

    report(25, 100, "assembling synthetic response texts")
    responses, n_chars = _response_texts(parts)
    latent = _Latent(category=category, base=base, quality=quality, length=n_chars,
                     adversarial=parts["opener"] >= len(_OPENERS[0]))

    report(60, 100, "scoring responses with the demo reward models")
    rm_rngs = rng.spawn(len(_RM_BUILDERS))
    scores = {name: build(latent, r).reshape(-1)
              for (name, build), r in zip(_RM_BUILDERS.items(), rm_rngs)}

    report(80, 100, "building the table")
    numbers, width = np.arange(1, P + 1), max(5, len(str(P)))
    prompt_ids = _ids("demo-p", numbers, width)
    templates = rng.integers(0, len(_PROMPTS[0]), size=P)
    prompt_text = np.array([t for row in _PROMPTS for t in row], dtype=object)
    prompts = (_ids(PROMPT_MARK, numbers, width) + "] "
               + prompt_text[category * len(_PROMPTS[0]) + templates])
    suffixes = _ids("-r", np.arange(1, N + 1), max(3, len(str(N))))
    rows = np.repeat(np.arange(P), N)

    frame = pd.DataFrame({
        "prompt_id": pd.array(prompt_ids[rows], dtype="str"),
        "category": pd.Categorical.from_codes(category[rows], categories=list(CATEGORIES)),
        "prompt": pd.Categorical.from_codes(rows, categories=pd.Index(prompts)),
        "response_id": pd.array(prompt_ids[rows] + np.tile(suffixes, P), dtype="str"),
        "policy": pd.Categorical.from_codes(np.zeros(P * N, dtype=np.int8), categories=[POLICY]),
        "response": responses,
        ORACLE_COLUMN: judge.reshape(-1).astype(np.float64),
        **{name: s.astype(np.float64) for name, s in scores.items()},
    })
    report(100, 100, f"demo ready: {P} prompts x {N} responses")
    return DemoBenchmark(
        frame=frame,
        oracle_columns=[ORACLE_COLUMN],
        rm_columns=list(_RM_BUILDERS),
        rm_descriptions=dict(RM_DESCRIPTIONS),
        description=DESCRIPTION,
    )


DEMO_NAME = "demo"


def build_demo(store, name: str = DEMO_NAME, n_prompts: int = 400, n_responses: int = 64,
               seed: int = 0, replace: bool = False, progress=None):
    """Generate the demo benchmark and import it into ``store`` (the same validated,
    all-or-nothing path as a user's file).  Returns the :class:`ImportReport`.

    ``progress(done, total, message)``: generation takes the first half, the import the rest.
    """
    from .ingest import import_frame  # ingest does not need the demo: import it lazily

    def part(start):
        if progress is None:
            return None
        return lambda done, total, message="": progress(start + 50 * done / total, 100, message)

    demo = generate_demo(n_prompts=n_prompts, n_responses=n_responses, seed=seed, progress=part(0))
    return import_frame(store, demo.frame, name, demo.oracle_columns, demo.rm_columns,
                        replace=replace, description=demo.description, progress=part(50),
                        source_name=f"demo generator (seed {seed})",
                        rm_descriptions=demo.rm_descriptions)
