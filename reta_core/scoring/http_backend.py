"""A served RM over HTTP: vLLM's ``/classify`` or ``/pooling`` API, or OpenRLHF's
``/get_reward`` (docs/metric.md §12).

* ``vllm-classify``: ``POST {url}/classify {"model", "input": [text, ...]}`` ->
  ``{"data": [{"index", "probs": [...]}, ...]}``; the score is ``probs[head_index]``
  (for a one-label head vLLM returns the sigmoid of the logit: the same ranking).
* ``vllm-pooling``: ``POST {url}/pooling {"model", "messages": [user, assistant]}``, one
  conversation per request, the server applying the model's own chat template ->
  ``{"data": [{"data": score | [score, ...] | [[...] per token]}]}``; the score is
  ``head_index`` of the (last token's) output.
* ``openrlhf``: ``POST {url}/get_reward {"query": [text, ...]}`` -> ``{"rewards": [...]}``.

The text APIs (classify, get_reward) get the conversation rendered with the chat
template of ``tokenizer`` (a local folder or hub id, needs transformers) or, without
one, as ``User: {prompt}\n\nAssistant: {response}``.  ``request_size`` pairs go in one
request; requests run ``concurrency`` at a time (:mod:`.http`).
"""
from __future__ import annotations

import json
import math

import numpy as np

from ..errors import RetaInputError, show
from .backend import Backend, BatchScores, ScoringError
from .http import RequestFailed, client_from_spec

APIS = {"vllm-classify": "/classify", "vllm-pooling": "/pooling", "openrlhf": "/get_reward"}
PLAIN_TEMPLATE = "User: {prompt}\n\nAssistant: {response}"


def build(spec: dict) -> "HttpRmBackend":
    return HttpRmBackend(spec)


class HttpRmBackend(Backend):
    name = "http"
    default_batch_size = 64

    def __init__(self, spec: dict):
        super().__init__(spec)
        self.api = spec.get("api") or "vllm-classify"
        if self.api not in APIS:
            raise RetaInputError(f"--api {self.api!r}: choose one of {', '.join(APIS)}")
        self.client = client_from_spec(spec, "url", "--url")
        self.request_size = max(1, int(spec.get("request_size") or 8))
        self.head = int(spec.get("head_index") or 0)
        self.allow_partial = False
        self.chat_template = None
        self._tokenizer = None
        if spec.get("tokenizer") and self.api != "vllm-pooling":
            from .backend import require

            transformers = require("transformers", "scoring")
            try:
                self._tokenizer = transformers.AutoTokenizer.from_pretrained(
                    spec["tokenizer"], trust_remote_code=bool(spec.get("trust_remote_code")))
            except Exception as exc:  # noqa: BLE001
                raise ScoringError(f"{spec['tokenizer']}: cannot load the tokenizer: "
                                   f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
            self.chat_template = getattr(self._tokenizer, "chat_template", None)

    def identity(self) -> str:
        return json.dumps({"backend": "http", "url": self.client.url(APIS[self.api]), "api": self.api,
                           "model": self.spec.get("model"), "head_index": self.head}, sort_keys=True)

    def template(self) -> str:
        if self.api == "vllm-pooling":
            return "messages (the server's chat template)"
        return self.chat_template or PLAIN_TEMPLATE

    def describe(self) -> str:
        return f"http:{self.api}:{self.client.url(APIS[self.api])}"

    def render(self, prompt: str, response: str) -> str:
        if self.chat_template:
            return self._tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}],
                tokenize=False)
        return f"User: {prompt}\n\nAssistant: {response}"  # PLAIN_TEMPLATE, one pass

    # -------------------------------------------------------------- requests
    def _payload(self, chunk):
        model = self.spec.get("model")
        if self.api == "vllm-pooling":
            (prompt, response), = chunk
            payload = {"messages": [{"role": "user", "content": prompt},
                                    {"role": "assistant", "content": response}]}
        elif self.api == "vllm-classify":
            payload = {"input": [self.render(p, r) for p, r in chunk]}
        else:
            payload = {"query": [self.render(p, r) for p, r in chunk]}
        if model and self.api != "openrlhf":
            payload["model"] = model
        return payload

    def _parse(self, reply, n: int, url: str) -> list:
        try:
            if self.api == "openrlhf":
                values = reply.get("rewards", reply.get("scores"))
                values = [float(v) for v in values]
            else:
                data = sorted(reply["data"], key=lambda d: d.get("index", 0))
                if self.api == "vllm-classify":
                    values = [float(d["probs"][self.head]) for d in data]
                else:
                    values = [_pooled(d["data"], self.head) for d in data]
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            raise ScoringError(f"{url}: malformed reply for the {self.api} API: "
                               f"{show(json.dumps(reply)[:200], 120)}") from None
        if len(values) != n or not all(math.isfinite(v) for v in values):
            raise ScoringError(f"{url}: malformed reply for the {self.api} API: {len(values)} "
                               f"scores for {n} inputs, or a score that is not a finite number")
        return values

    def _one(self, chunk):
        url = self.client.url(APIS[self.api])
        try:
            reply = self.client.post(APIS[self.api], self._payload(chunk))
        except RequestFailed as exc:
            if not self.allow_partial:
                raise ScoringError(f"{exc}; what was scored is kept: continue with --resume, or "
                                   "accept gaps with --allow-partial") from None
            return [math.nan] * len(chunk), ["failed"] * len(chunk)
        return self._parse(reply, len(chunk), url), ["ok"] * len(chunk)

    def score(self, prompts, responses) -> BatchScores:
        pairs = list(zip(prompts, responses))
        size = 1 if self.api == "vllm-pooling" else self.request_size
        chunks = [pairs[i:i + size] for i in range(0, len(pairs), size)]
        scores, status = [], []
        for values, states in self.client.map(self._one, chunks):
            scores += values
            status += states
        return BatchScores.of(np.array(scores, dtype=np.float64), status)

    def close(self) -> None:
        self.client.close()


def _pooled(data, head: int) -> float:
    """A pooling output: a number, a vector (one value per head) or one vector per token
    (the last token's)."""
    if isinstance(data, (int, float)):
        return float(data)
    if data and isinstance(data[0], list):
        data = data[-1]
    return float(data[head])
