"""The HTTP client of the served backends (a served RM, an LLM judge): the standard
library only, bounded concurrency, a timeout per request, retries with exponential
backoff (and the server's ``Retry-After``) on connection errors, timeouts, HTTP 429 and
5xx.  Any other HTTP error, or a reply that is not the JSON the API promises, stops the
run with one line (:class:`~reta_core.scoring.backend.ScoringError`).

An API key is read from the environment variable the user names (``api_key_env``) and
sent as ``Authorization: Bearer``; it is never stored, logged or put in a message.
Only ``http`` and ``https`` URLs are accepted.
"""
from __future__ import annotations

import json
import os
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from ..errors import RetaInputError, one_line
from .backend import ScoringError

RETRY_STATUS = (408, 429, 500, 502, 503, 504)
MAX_WAIT = 60.0


class RequestFailed(Exception):
    """A request that still failed after its retries (a one-line reason)."""


def check_url(url: str, option: str = "--url") -> str:
    parsed = urllib.parse.urlparse(str(url))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise RetaInputError(f"{option} {url!r}: give an http:// or https:// address, e.g. "
                             "http://127.0.0.1:8000")
    return str(url).rstrip("/")


def api_key(env_name: str | None) -> str | None:
    """The key held by the environment variable ``env_name`` (None without one)."""
    if not env_name:
        return None
    value = os.environ.get(env_name)
    if not value:
        raise RetaInputError(f"--api-key-env {env_name}: that environment variable is not set "
                             "(or is empty)")
    return value


class HttpClient:
    """POSTs JSON to one server with bounded concurrency, timeouts and retries."""

    def __init__(self, base_url: str, *, concurrency: int = 8, timeout: float = 60.0,
                 retries: int = 4, backoff: float = 0.5, api_key_env: str | None = None,
                 option: str = "--url"):
        self.base_url = check_url(base_url, option)
        if concurrency < 1:
            raise RetaInputError(f"--concurrency must be at least 1, got {concurrency}")
        self.concurrency = int(concurrency)
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self.backoff = max(0.0, float(backoff))
        self._key_env = api_key_env
        api_key(api_key_env)  # fail now, not on the first request
        self._pool = None
        self.sent = 0  # requests sent, retries included

    def __repr__(self):
        return f"HttpClient({self.base_url!r})"  # never the key

    def url(self, path: str) -> str:
        """``path`` appended to the base URL unless the base URL already ends with it."""
        if self.base_url.endswith(path):
            return self.base_url
        return self.base_url + path

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = api_key(self._key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def post(self, path: str, payload: dict) -> dict:
        """The JSON reply to ``payload``; RequestFailed after the retries, ScoringError
        for an error that retrying cannot fix."""
        url = self.url(path)
        body = json.dumps(payload).encode("utf-8")
        reason = ""
        for attempt in range(self.retries + 1):
            wait = None
            try:
                self.sent += 1
                request = urllib.request.Request(url, data=body, headers=self._headers(), method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout) as reply:  # noqa: S310 (scheme checked)
                    raw = reply.read()
                try:
                    return json.loads(raw)
                except ValueError:
                    raise ScoringError(f"{url}: malformed reply (not JSON): "
                                       f"{one_line(raw[:120].decode('utf-8', 'replace'))!r}") from None
            except urllib.error.HTTPError as exc:
                detail = one_line(exc.read()[:200].decode("utf-8", "replace")) if exc.fp else ""
                reason = f"HTTP {exc.code} {exc.reason}" + (f": {detail}" if detail else "")
                if exc.code not in RETRY_STATUS:
                    raise ScoringError(f"{url}: {reason}") from None
                wait = _retry_after(exc.headers.get("Retry-After"))
            except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as exc:
                inner = getattr(exc, "reason", exc)
                reason = f"cannot reach the server: {one_line(inner) or type(inner).__name__}"
            if attempt < self.retries:
                if wait is None:
                    wait = self.backoff * 2 ** attempt * (1 + 0.25 * random.random())
                time.sleep(min(wait, MAX_WAIT))
        raise RequestFailed(f"{url}: {reason} (after {self.retries + 1} attempts)")

    def map(self, func, items) -> list:
        """``[func(item) for item in items]`` with at most ``concurrency`` at a time."""
        items = list(items)
        if self.concurrency == 1 or len(items) <= 1:
            return [func(item) for item in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="reta-http")
        return list(self._pool.map(func, items))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _retry_after(value) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def client_from_spec(spec: dict, url_key: str, option: str) -> HttpClient:
    return HttpClient(spec[url_key], concurrency=int(spec.get("concurrency") or 8),
                      timeout=float(spec.get("timeout") or 60.0),
                      retries=int(spec.get("retries") if spec.get("retries") is not None else 4),
                      backoff=float(spec.get("backoff") if spec.get("backoff") is not None else 0.5),
                      api_key_env=spec.get("api_key_env"), option=option)
