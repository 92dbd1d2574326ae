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
