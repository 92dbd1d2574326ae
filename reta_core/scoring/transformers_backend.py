"""A local RM through transformers: ``AutoModelForSequenceClassification`` (docs/metric.md §12).

The input is the conversation ``[user: prompt, assistant: response]`` rendered with the
tokenizer's own chat template; a tokenizer without one gets the pair ``(prompt,
response)`` as a cross-encoder.  The score is the logit of a one-label head, or of the
head ``head_index`` (or the label or output named ``head_name``) of a multi-objective
one.  An input longer than ``max_length`` (default: the tokenizer's limit) is cut from
the left of the prompt, and counted.  Batches are padded on the right with an attention
mask, so a score does not depend on the batch it is in (up to float tolerance).

Spec keys: ``model`` (a folder or a hub id), ``revision``, ``head_index``,
``head_name``, ``max_length``, ``device`` (auto|cpu|cuda), ``dtype``
(auto|float32|bfloat16|float16), ``trust_remote_code`` (only when the user passed it).
torch and transformers are imported here only (the ``scoring`` extra).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import one_line, show
from .backend import Backend, BatchScores, ScoringError, require

DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")
_NO_LIMIT = 100_000  # tokenizers without a limit report a huge model_max_length


def build(spec: dict) -> "TransformersBackend":
    return TransformersBackend(spec)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return one_line(text.splitlines()[0]) if text else type(exc).__name__


def model_fingerprint(model: str, revision=None) -> str:
    """What identifies the weights: for a folder, its config and the names, sizes and
    modification times of its weight files; for a hub id, the id and revision."""
    path = Path(model).expanduser()
    if not path.is_dir():
        return json.dumps({"hub": model, "revision": revision})
    h = hashlib.sha256()
    config = path / "config.json"
    if config.is_file():
        h.update(config.read_bytes())
    for file in sorted(path.iterdir()):
        if file.suffix in (".safetensors", ".bin", ".pt", ".json", ".model", ".txt"):
            stat = file.stat()
            h.update(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return json.dumps({"folder": str(path.resolve()), "files": h.hexdigest()})


class TransformersBackend(Backend):
    name = "transformers"
    default_batch_size = 16

    def __init__(self, spec: dict):
        super().__init__(spec)
        self.transformers = require("transformers", "scoring")
        self.torch = require("torch", "scoring")
        quiet = self.transformers.utils.logging
        quiet.set_verbosity_error()      # the run reports what matters (truncation, progress)
        quiet.disable_progress_bar()
        self.model_id = str(spec["model"])
        if spec.get("device", "auto") not in DEVICES:
            raise ScoringError(f"--device: choose one of {', '.join(DEVICES)}")
        if spec.get("dtype", "auto") not in DTYPES:
            raise ScoringError(f"--dtype: choose one of {', '.join(DTYPES)}")
        trust = bool(spec.get("trust_remote_code", False))
        if self.model_id.startswith(("/", "./", "../", "~")) and not Path(self.model_id).expanduser().is_dir():
            raise ScoringError(f"{self.model_id}: no such model folder")
        try:
            self.tokenizer = self.transformers.AutoTokenizer.from_pretrained(
                self.model_id, revision=spec.get("revision"), trust_remote_code=trust)
        except Exception as exc:  # noqa: BLE001 (OSError, ValueError, ... from the hub code)
            raise ScoringError(f"{self.model_id}: cannot load the tokenizer: "
                               f"{_first_line(exc)}") from None
        tok = self.tokenizer
        tok.padding_side = "right"
        tok.truncation_side = "left"
        if tok.pad_token_id is None:
            if tok.eos_token_id is None:
                raise ScoringError(f"{self.model_id}: the tokenizer has neither a padding nor an "
                                   "end-of-sequence token to pad batches with")
            tok.pad_token = tok.eos_token
        self.chat_template = getattr(tok, "chat_template", None) or None
        limit = spec.get("max_length") or getattr(tok, "model_max_length", None)
        self.max_length = int(limit) if limit and int(limit) < _NO_LIMIT else None
        self._model = None
        self._device = None

    # -------------------------------------------------------------- identity
    def identity(self) -> str:
        spec = self.spec
        return json.dumps({"backend": "transformers",
                           "model": model_fingerprint(self.model_id, spec.get("revision")),
                           "head_index": spec.get("head_index"), "head_name": spec.get("head_name"),
                           "max_length": self.max_length, "dtype": spec.get("dtype", "auto")},
                          sort_keys=True)

    def template(self) -> str:
        return self.chat_template or "cross-encoder (prompt, response)"

    def describe(self) -> str:
        return f"transformers:{self.model_id}"

    # -------------------------------------------------------------- inputs
    def render(self, prompt: str, response: str) -> str:
        conversation = [{"role": "user", "content": prompt},
                        {"role": "assistant", "content": response}]
        return self.tokenizer.apply_chat_template(conversation, tokenize=False)

    def _encode_chat(self, prompt: str, response: str) -> tuple[list, bool]:
        """Token ids of the rendered conversation, the prompt cut from the left when it
        is too long; and whether it was cut."""
        tok, limit = self.tokenizer, self.max_length
        ids = tok(self.render(prompt, response), add_special_tokens=False)["input_ids"]
        if limit is None or len(ids) <= limit:
            return ids, False
        prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        cut = len(ids) - limit
        while cut < len(prompt_ids):
            shorter = tok.decode(prompt_ids[cut:], skip_special_tokens=True)
            ids = tok(self.render(shorter, response), add_special_tokens=False)["input_ids"]
            if len(ids) <= limit:
                return ids, True
            cut += max(1, len(ids) - limit)
        ids = tok(self.render("", response), add_special_tokens=False)["input_ids"]
        return ids[-limit:], True  # the response alone is too long: keep its end

    def _encode_pair(self, prompt: str, response: str) -> tuple[list, bool]:
        tok, limit = self.tokenizer, self.max_length
        ids = tok(prompt, response)["input_ids"]
        if limit is None or len(ids) <= limit:
            return ids, False
        try:
            return tok(prompt, response, truncation="only_first", max_length=limit)["input_ids"], True
        except Exception:  # noqa: BLE001 (the response alone is too long)
            return tok(prompt, response, truncation="longest_first", max_length=limit)["input_ids"], True

    def encode(self, prompts, responses) -> tuple[list, np.ndarray]:
        """Token ids of a batch and which were truncated.  The batch is tokenised in one
        call (the fast tokenizer's own batching); only inputs over the limit go through
        the one-at-a-time truncation of :meth:`_encode_chat` / :meth:`_encode_pair`."""
        prompts, responses = list(prompts), list(responses)
        if self.chat_template:
            ids = self.tokenizer([self.render(p, r) for p, r in zip(prompts, responses)],
                                 add_special_tokens=False)["input_ids"]
            one = self._encode_chat
        else:
            ids = self.tokenizer(prompts, responses)["input_ids"]
            one = self._encode_pair
        truncated = np.zeros(len(ids), dtype=bool)
        if self.max_length is not None:
            for i in [i for i, x in enumerate(ids) if len(x) > self.max_length]:
                ids[i], truncated[i] = one(prompts[i], responses[i])
        return list(ids), truncated

    # -------------------------------------------------------------- model
    def _load(self):
        torch, spec = self.torch, self.spec
        device = spec.get("device", "auto")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise ScoringError("--device cuda: no CUDA device is available (torch "
                               f"{torch.__version__})")
        dtype = spec.get("dtype", "auto")
        if dtype == "auto":
            dtype = "float32" if device == "cpu" else "auto"
        kwargs = {"revision": spec.get("revision"),
                  "trust_remote_code": bool(spec.get("trust_remote_code", False)),
                  "dtype": dtype if dtype == "auto" else getattr(torch, dtype)}
        try:
            model = self.transformers.AutoModelForSequenceClassification.from_pretrained(
                self.model_id, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise ScoringError(f"{self.model_id}: cannot load the model: {_first_line(exc)}") from None
        model.eval()
        model.to(device)
        if getattr(model.config, "pad_token_id", None) is None:
            model.config.pad_token_id = self.tokenizer.pad_token_id
        self._head = self._choose_head(model)
        self._model, self._device = model, device
        return model

    def _choose_head(self, model):
        """("logit", index) or ("output", name)."""
        spec, n = self.spec, int(getattr(model.config, "num_labels", 1))
        name, index = spec.get("head_name"), spec.get("head_index")
        if name is not None:
            label2id = {str(k): int(v) for k, v in (getattr(model.config, "label2id", None) or {}).items()}
            if name in label2id:
                return ("logit", label2id[name])
            return ("output", name)
        if index is not None:
            if not 0 <= int(index) < n:
                raise ScoringError(f"{self.model_id}: --head-index {index} is out of range; the "
                                   f"head has {n} outputs (0..{n - 1})")
            return ("logit", int(index))
        if n != 1:
            labels = getattr(model.config, "id2label", None) or {}
            raise ScoringError(f"{self.model_id}: the head has {n} outputs ("
                               + ", ".join(map(str, list(labels.values())[:8]))
                               + "); choose one with --head-index or --head-name")
        return ("logit", 0)

    def score(self, prompts, responses) -> BatchScores:
        model = self._model or self._load()
        torch = self.torch
        ids, truncated = self.encode(prompts, responses)
        batch = self.tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")
        batch = {k: v.to(self._device) for k, v in batch.items()}
        with torch.inference_mode():
            out = model(**batch)
        kind, which = self._head
        if kind == "logit":
            values = out.logits[:, which]
        else:
            values = getattr(out, which, None)
            if values is None:
                raise ScoringError(f"{self.model_id}: the model has no label or output named "
                                   f"{show(which)}")
            values = values.reshape(len(ids), -1)[:, 0]
        scores = values.float().cpu().numpy().astype(np.float64)
        return BatchScores.of(scores, ["ok"] * len(scores), truncated)

    def close(self) -> None:
        self._model = None
