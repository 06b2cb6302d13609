"""The relevance model: loads from the package, is hash-checked, ranks by meaning, and its absence
only turns compression lexical."""
from __future__ import annotations

import shutil

import pytest

from headroom.core import relevance
from headroom.core.compressors import Context
from headroom.core.compressors.code import compress_code


@pytest.fixture(autouse=True)
def fresh_model(monkeypatch):
    relevance.configure()
    relevance.reset()
    yield
    relevance.configure()  # the process default again: the package's model, on
    relevance.reset()


def test_model_loads_and_ranks_by_meaning():
    assert relevance.available(), relevance.load_error()
    sims = relevance.similarities(
        "How does the client verify TLS certificates?",
        ["create an SSL context that checks the server certificate chain", "render a progress bar in the terminal"],
    )
    assert sims is not None and sims[0] > sims[1] + 0.2


def test_embeddings_are_unit_vectors_and_deterministic():
    a = relevance.embed(["retry a failed request", "parse the header"])
    b = relevance.embed(["retry a failed request", "parse the header"])
    assert a.shape == (2, 384)
    assert abs(float((a[0] ** 2).sum()) - 1.0) < 1e-3
    assert (a == b).all()


def test_corrupt_model_is_refused_with_a_clear_message(tmp_path, monkeypatch):
    src = relevance.model_dir()
    shutil.copy(src / relevance.VOCAB_FILE, tmp_path / relevance.VOCAB_FILE)
    data = bytearray((src / relevance.MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / relevance.MODEL_FILE).write_bytes(bytes(data))
    relevance.configure(directory=tmp_path)  # HEADROOM_MODEL_DIR, as the edge passes it
    assert relevance.similarities("anything", ["x"]) is None
    assert "sha256" in relevance.load_error() and "reinstall" in relevance.load_error()


def test_missing_model_says_where_it_looked(tmp_path, monkeypatch):
    from headroom.settings import pipeline_env

    pipeline_env({"HEADROOM_MODEL_DIR": str(tmp_path)})
    assert not relevance.available()
    assert str(tmp_path) in relevance.load_error()


def test_hash_check_is_remembered_under_the_home(headroom_home):
    assert relevance.available()
    assert (headroom_home / "models" / "verified.json").is_file()


def _source(n=30):
    parts = ["import ssl", ""]
    for i in range(n):
        parts += [f"def helper_{i}(x):", f'    """Helper number {i}."""'] + [f"    x += {k}  # accumulate step {k}" for k in range(12)] + ["    return x", ""]
    return "\n".join(parts)


def test_compression_works_without_the_model(monkeypatch, tmp_path):
    text = _source()
    with_model = compress_code(text, Context(query="what does helper_3 do?"))
    from headroom.settings import pipeline_env

    pipeline_env({"HEADROOM_RELEVANCE_MODEL": "0"})
    without = compress_code(text, Context(query="what does helper_3 do?"))
    assert without.drops
    body3 = without.text.split("def helper_3(x):")[1].split("def helper_4")[0]
    body5 = without.text.split("def helper_5(x):")[1].split("def helper_6")[0]
    assert "x += 7  # accumulate step 7" in body3 and "[headroom:" not in body3  # kept by name alone
    assert "[headroom:" in body5
    assert relevance.load_error() == "disabled by HEADROOM_RELEVANCE_MODEL=0"
    assert with_model.drops


def test_a_model_process_that_dies_costs_one_lexical_ranking_then_starts_again():
    import os
    import signal

    q, texts = "verify TLS certificates", ["check the server certificate chain", "draw a progress bar"]
    before = relevance.similarities(q, texts)
    worker, _ = relevance._load()
    os.kill(worker.pid, signal.SIGKILL)
    worker.proc.wait(30)
    assert relevance.similarities(q, texts) is None  # this call ranks lexically
    assert relevance.similarities(q, texts) == before  # a new process, the same numbers
    assert relevance._load()[0].pid != worker.pid


def test_a_model_process_that_stops_answering_is_ended_and_the_next_call_starts_another(monkeypatch):
    # SIGSTOP: the process is there but never answers (a real hang, not a death): the call must not wait for
    # it for ever, holding the lock every later compression needs.
    import os
    import signal

    q, texts = "verify TLS certificates", ["check the server certificate chain", "draw a progress bar"]
    before = relevance.similarities(q, texts)
    worker, _ = relevance._load()
    monkeypatch.setattr(relevance, "WORKER_CALL_S", 0.5)
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        assert relevance.similarities(q, texts) is None  # this call ranks lexically
    finally:
        if worker.proc.poll() is None:
            os.kill(worker.pid, signal.SIGCONT)
    assert worker.proc.wait(30) is not None  # ended, not left stopped
    assert relevance.similarities(q, texts) == before
    assert relevance._load()[0].pid != worker.pid
