"""Small files in exactly the published layouts of RewardMATH, RewardBench 2, PPE best-of-K
and AlpacaEval (reta_core.importers), with the numbers the engine must then show worked
out by hand next to them (docs/metric.md §3: R_q = T_q / mu_q, a tie block's oracle
scores averaged, §2).  Plain helpers, no fixtures and no tests."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# ------------------------------------------------------------------ RewardMATH
P1, P2, P3 = "What is $1+1$?", "Solve $x+2=5$.", "Compute $3 \\times 3$."
REFS = {P1: ["human_to_GPT-4", "gpt-3.5-turbo-0125", "meta-llama/Meta-Llama-3-8B-Instruct"],
        P2: ["human_to_GPT-4", "modified_with_GPT-4", "google/gemma-7b-it"],
        P3: ["human_to_GPT-4", "gpt-3.5-turbo-0125"]}
ORM_A = {P1: [0.9, 0.5, 0.2], P2: [0.1, 0.8, 0.3], P3: [0.4, 0.6]}
PRM_B = {P1: [[0.9, 0.8], [0.7, 0.95], [0.1]], P2: [[0.6, 0.9], [0.5], [0.2, 0.3, 0.4]],
         P3: [[0.3], [0.3, 0.9]]}
ORM_C = {P1: [0.2, 0.6, 0.1], P3: [0.9, 0.1]}  # no P2: coverage 5/8
# Oracle `correct`: solution 0 of each problem, so mu = 1/3, 1/3, 1/2.  RETA(1/3): the
# top pick's correctness / mu (P3: eta*N = 2/3 < 1, so the top-1 value).
#   orm_a: P1 top s0 -> 3; P2 top s1 -> 0; P3 top s1 -> 0                       = 1
#   prm_b, min  [.8 .7 .1] [.6 .5 .2] [.3 .3 tie -> .5/.5 = 1]: (3 + 3 + 1) / 3 = 7/3
#   prm_b, mean [.85 .825 .1] [.75 .5 .3] [.3 .6]: (3 + 3 + 0) / 3                 = 2
#   prm_b, last [.8 .95 .1] [.9 .5 .4] [.3 .9]: (0 + 3 + 0) / 3                    = 1
#   prm_b, prod [.72 .665 .1] [.54 .5 .024] [.3 .27]: (3 + 3 + 2) / 3              = 8/3
#   orm_c: P1 top s1 -> 0; P3 top s0 -> 2; P2 does not count (no score)          = 1
REWARDMATH_RETA_THIRD = {"orm_a": 1.0, "prm_b": 7 / 3, "orm_c": 1.0}
PRM_B_BY_AGGREGATE = {"min": 7 / 3, "mean": 2.0, "last": 1.0, "prod": 8 / 3}
# Pairwise accuracy (§9) of orm_a: P1 1 (s0 above both), P2 0, P3 0 -> 1/3.
STEPS = {P1: [["1+1 = 2.", "The answer is $\\boxed{2}$."], ["1+1 = 3."], ["It is 11."]],
         P2: [["x = 5 - 2 = 3."], ["x = 5 + 2 = 7."], ["x is 2."]],
         P3: [["3 x 3 = 9."], ["3 x 3 = 6."]]}


def scorer_records(scores: dict, problems=None) -> list[dict]:
    return [{"problem": p, "solution_reference": REFS[p], "score": scores[p]}
            for p in (problems or list(scores))]


def texts_records(problems=(P1, P2, P3)) -> list[dict]:
    return [{"problem": p, "answer": "-", "eval_solution": steps, "solution_reference": REFS[p][k],
             "solution_type": "chosen" if k == 0 else "rejected", "subject": "Algebra", "level": 1,
             "problem_id": i, "id": 10 * i + k}
            for i, p in enumerate(problems) for k, steps in enumerate(STEPS[p])]


def write_json(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def rewardmath_folder(root: Path, *, texts: bool = False) -> Path:
    """``results/RewardMATH`` with two ORMs (one repeating a problem, one missing one), a
    process RM and a pairwise file; with ``texts`` also the benchmark's own file
    (returned as ``root/RewardMATH_direct.json``)."""
    folder = root / "results" / "RewardMATH"
    write_json(folder / "orm_a_reward.json", scorer_records(ORM_A) + scorer_records(ORM_A, [P1]))
    write_json(folder / "orm_c_reward.json", scorer_records(ORM_C))
    write_json(folder / "prm_b_reward.json", scorer_records(PRM_B))
    write_json(folder / "gpt4_pairwise_reward.json",
               [{"problem": P1, "solution_reference": REFS[P1], "score": ["A", "B"]}])
    if texts:
        write_json(root / "RewardMATH_direct.json", texts_records())
    return folder


# ------------------------------------------------------------------ RewardBench 2
def chat(prompt: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]


RB2_PROMPTS = [  # id, subset, prompt, completions, num_correct
    ("100", "Math", "What is 2+2?", ["4", "5", "22", "3"], 1),
    ("101", "Focus", "Name a fruit.", ["An apple.", "A car.", "Blue.", "Seven."], 1),
    ("102", "Ties", "Name a primary colour.", ["Red.", "Blue.", "Green-ish.", "Pink.", "Mauve."], 2),
]
RB2_SCORES = {
    "org1/rm-a": [[2.0, 1.0, 0.5, 0.0], [0.3, 0.9, 0.1, 0.2], [1.0, 3.0, 2.0, 0.0, -1.0]],
    "org2/rm-b": [[0.0, 1.0, 1.0, 0.5], [5.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0]],
}
# Oracle `correct`: the first num_correct completions; mu = 1/4, 1/4, 2/5.  RETA(0.25):
#   rm-a: 100 top c0 -> 4; 101 top c1 -> 0; 102 (eta*N = 1.25): c1 (1) + 0.25 * c2 (0),
#         T = 1 / 1.25 = 0.8, R = 2                                           -> (4 + 0 + 2) / 3 = 2
#   rm-b: 100 tie {c1, c2}, both 0 -> 0; 101 top c0 -> 4; 102 all tied -> 1    -> 5/3
RB2_RETA_QUARTER = {"org1/rm-a": 2.0, "org2/rm-b": 5 / 3}
RB2_TIES_RETA_QUARTER = {"org1/rm-a": 2.0, "org2/rm-b": 1.0}


def rb2_columns(name: str, prompts=RB2_PROMPTS, scores=None) -> dict:
    scores = RB2_SCORES[name] if scores is None else scores
    return {
        "id": [p[0] for p in prompts], "subset": [p[1] for p in prompts],
        "text": [[chat(p[2], c) for c in p[3]] for p in prompts],
        "scores": scores, "num_correct": [p[4] for p in prompts],
        "results": [1 if s[0] == max(s) else 0 for s in scores],
        "model": name, "model_type": "Seq. Classifier", "chat_template": "tokenizer",
    }


def rewardbench2_folder(root: Path) -> Path:
    """``eval-set-scores/<org>/<model>.json`` for two RMs on the same three prompts."""
    folder = root / "eval-set-scores"
    for name in RB2_SCORES:
        write_json(folder / f"{name}.json", rb2_columns(name))
    return folder


# ------------------------------------------------------------------ PPE
PPE_SETS = {  # set folder -> rows (question_id, model_name, prompt, responses, scores)
    "PPE-MATH-Best-of-K": [
        ("q1", "model-a", "What is 6 x 7?", ["a" * 10, "b" * 40, "c" * 20, "d" * 30], [True, False, False, True]),
        ("q1", "model-b", "What is 6 x 7?", ["e" * 10, "f" * 20, "g" * 30, "h" * 40], [False, False, False, False]),
    ],
    "PPE-GPQA-Best-of-K": [
        ("g1", "model-a", "Which gas is inert?", ["x" * 5, "y" * 50, "z" * 10, "w"], [True, True, False, False]),
    ],
}
# baseline_length (the longest first) at eta = 0.25 (top 1 of 4):
#   MATH-00001 (model-a): r2 (40, wrong) -> 0; MATH-00002 (model-b) has mu = 0: excluded
#   (ratio); GPQA-00001: r2 (50, right) -> 1 / 0.5 = 2                            -> (0 + 2) / 2 = 1
PPE_LENGTH_RETA_QUARTER = 1.0


def ppe_table(rows) -> pa.Table:
    k = len(rows[0][3])
    columns = {"question_id": [r[0] for r in rows], "question": [r[2] for r in rows],
               "model_name": [r[1] for r in rows], "parsed_outputs": [["-"] * k for _ in rows],
               "scores": [r[4] for r in rows], "mean_score": [sum(x is True for x in r[4]) / k for r in rows],
               "prompt": [r[2] for r in rows]}
    columns.update({f"response_{j + 1}": [r[3][j] for r in rows] for j in range(k)})
    return pa.table(columns)


def ppe_folder(root: Path) -> Path:
    """Two PPE sets as downloaded: ``PPE-<SET>-Best-of-K/data/train-00000-of-00001.parquet``."""
    for name, rows in PPE_SETS.items():
        path = root / name / "data" / "train-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(ppe_table(rows), path)
    return root


# ------------------------------------------------------------------ AlpacaEval
I1, I2 = "Give me a synonym for happy.", "How do I boil an egg?"
REFERENCE = {I1: "Joyful.", I2: "Put it in boiling water for 8 minutes."}
ALPACA = {  # model -> {instruction: (output_2, preference)}
    "model-x": {I1: ("Cheerful, glad, content and joyful are all good choices.", 1.8), I2: ("Boil it.", 1.2)},
    "model-y": {I1: ("Glad.", 1.1), I2: ("Place the egg in boiling water, wait 9 minutes, then cool it.", 1.9)},
}
# Oracle win_prob = preference - 1.  baseline_length at eta = 0.5 (top 1 of 2): the longer
# output wins each time: I1 0.8 / mean(0.8, 0.1) = 16/9, I2 0.9 / mean(0.2, 0.9) = 18/11.
ALPACA_LENGTH_RETA_HALF = (16 / 9 + 18 / 11) / 2


def alpaca_records(model: str, annotator: str = "weighted_alpaca_eval_gpt4_turbo", repeat: bool = False) -> list:
    records = [{"instruction": i, "output_1": REFERENCE[i], "generator_1": "gpt4_1106_preview",
                "dataset": "helpful_base" if i == I1 else "koala", "output_2": out, "generator_2": model,
                "annotator": annotator, "preference": pref, "price_per_example": None,
                "time_per_example": None, "raw_completion": {"logprobs": None} if i == I1 else "m"}
               for i, (out, pref) in ALPACA[model].items()]
    return records + records[:1] if repeat else records


def alpacaeval_folder(root: Path) -> Path:
    """``results/<model>/<annotator>/annotations.json``: two models judged by one
    annotator (one file repeating a record), one by another annotator (skipped)."""
    folder = root / "results"
    write_json(folder / "model-x" / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json", alpaca_records("model-x"))
    write_json(folder / "model-y" / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json",
               alpaca_records("model-y", repeat=True))
    write_json(folder / "model-x" / "alpaca_eval_gpt4" / "annotations.json",
               alpaca_records("model-x", annotator="alpaca_eval_gpt4"))
    return folder
