"""Real components for the scoring tests, built here at test time, with no network:
a tiny randomly initialised reward model (a small Llama config, a word-level tokenizer
trained with the ``tokenizers`` library, a chat template) saved to a folder, and a
local HTTP server on 127.0.0.1 speaking the OpenAI chat-completions, vLLM classify and
pooling, and OpenRLHF get_reward shapes."""
from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
                 "<|end|>")
SPECIAL = ["[PAD]", "[UNK]", "<|user|>", "<|assistant|>", "<|end|>"]


def corpus() -> list[str]:
    """Words the tiny tokenizer knows: the demo generator's texts, so demo responses
    mostly tokenise to real ids rather than [UNK]."""
    from reta_core.demo import generate_demo

    frame = generate_demo(n_prompts=20, n_responses=8, seed=0).frame
    return list(frame["prompt"].unique()) + list(frame["response"])


def build_tiny_rm(folder, *, seed: int = 0, hidden: int = 32, layers: int = 2,
                  max_length: int = 512, chat_template: bool = True, num_labels: int = 1) -> Path:
    """A randomly initialised LlamaForSequenceClassification and its tokenizer, saved to
    ``folder`` the way a hub model is laid out."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForSequenceClassification, PreTrainedTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    raw = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    raw.normalizer = normalizers.Lowercase()
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(corpus(), trainers.WordLevelTrainer(vocab_size=2000, special_tokens=SPECIAL))
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="[PAD]", unk_token="[UNK]",
                                  eos_token="<|end|>", model_max_length=max_length)
    if chat_template:
        tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(folder)
    config = LlamaConfig(vocab_size=raw.get_vocab_size(), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=max(max_length, 64), num_labels=num_labels,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                         bos_token_id=None, initializer_range=0.2, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = LlamaForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    return folder


# ------------------------------------------------------------------ a local HTTP server
def text_value(text: str) -> float:
    """The deterministic score the test server gives a text: in (-3, 3)."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") / 2 ** 64 * 6 - 3


def judge_reply(content: str) -> str:
    """The test judge's reply to a rubric: a rating 1-10 from the text, except every
    7th text (by hash), which gets a reply without a rating."""
    digest = hashlib.sha256(content.encode("utf-8")).digest()
    if digest[8] % 7 == 0:
        return "I would rather not put a number on this one."
    return f"The response is fine.\nRating: {1 + digest[9] % 10}"


class ServerState:
    """What the test server does and what it saw: ``delay`` seconds per reply; the next
    ``fail`` requests answered with ``fail_status`` (429 with Retry-After: 0, or 500);
    ``malformed``: replies that are not the API's JSON; ``requests``: count per path."""

    def __init__(self):
        self.lock = threading.Lock()
        self.delay = 0.0
        self.fail = 0
        self.fail_status = 500
        self.malformed = False
        self.requests: dict[str, int] = {}
        self.bodies: list = []

    def total(self) -> int:
        with self.lock:
            return sum(self.requests.values())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, payload, headers=None):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802
        state: ServerState = self.server.state
        data = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        path = self.path
        with state.lock:
            state.requests[path] = state.requests.get(path, 0) + 1
            state.bodies.append((path, data, self.headers.get("Authorization")))
            failing = state.fail > 0
            if failing:
                state.fail -= 1
        if state.delay:
            time.sleep(state.delay)
        if failing:
            return self._send(state.fail_status, {"error": "try again"},
                              {"Retry-After": "0"} if state.fail_status == 429 else None)
        if state.malformed:
            return self._send(200, b"<html>not json</html>")
        if path.endswith("/chat/completions"):
            content = data["messages"][-1]["content"]
            return self._send(200, {"id": "x", "object": "chat.completion", "model": data.get("model"),
                                    "choices": [{"index": 0, "message": {"role": "assistant",
                                                                         "content": judge_reply(content)},
                                                 "finish_reason": "stop"}]})
        if path.endswith("/classify"):
            return self._send(200, {"object": "list", "data": [
                {"index": i, "label": "LABEL_0", "probs": [text_value(t)], "num_classes": 1}
                for i, t in enumerate(data["input"])]})
        if path.endswith("/pooling"):
            m = data["messages"]
            return self._send(200, {"object": "list", "data": [
                {"index": 0, "object": "pooling", "data": [text_value(m[0]["content"] + "\n" + m[1]["content"])]}]})
        if path.endswith("/get_reward"):
            return self._send(200, {"rewards": [text_value(t) for t in data["query"]]})
        return self._send(404, {"error": f"no route {path}"})


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops connections that come all at once
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that timed out: quiet
        pass


class LocalServer:
    """A ThreadingHTTPServer on 127.0.0.1 (a free port) in a daemon thread."""

    def __init__(self):
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.state = ServerState()
        self.state = self.httpd.state
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def serve_forever_main():  # pragma: no cover - `python tests/scoring_helpers.py [delay]`
    """Run the test server in the foreground (for trying the CLI by hand)."""
    import sys

    with LocalServer() as server:
        server.state.delay = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
        print(server.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    serve_forever_main()
