"""The embedded LLM's serving copy: the package's GGUF re-encoded once, reused while fresh, and the
package's own file served when the quantizer cannot make it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from voicecore.launcher import embedded_llm


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "pkg" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    path.parent.mkdir()
    path.write_bytes(b"GGUF" + b"\0" * 60)  # not a model: llama.cpp's quantizer refuses it
    monkeypatch.setattr(embedded_llm, "gguf_path", lambda: path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("VOICECORE_LLM_GGUF", raising=False)
    return path


def test_the_serving_copy_lives_in_the_cache(source: Path, tmp_path: Path) -> None:
    assert embedded_llm.served_path() == tmp_path / "cache" / "voicecore" / "models" / "SmolLM2-135M-Instruct.Q8_0.gguf"


def test_a_fresh_copy_is_reused_without_running_the_quantizer(source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = embedded_llm.served_path()
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"converted")
    monkeypatch.setattr(embedded_llm, "requantize", lambda *_: pytest.fail("the quantizer ran again"))
    assert embedded_llm.serving_model() == copy


def test_a_copy_older_than_the_package_file_is_made_again(source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = embedded_llm.served_path()
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"old")
    old = time.time() - 3600
    os.utime(copy, (old, old))
    made: list[tuple[Path, Path]] = []

    def requantize(src: Path, dest: Path) -> Path:
        made.append((src, dest))
        dest.write_bytes(b"new")
        return dest

    monkeypatch.setattr(embedded_llm, "requantize", requantize)
    assert embedded_llm.serving_model() == copy
    assert made == [(source, copy)] and copy.read_bytes() == b"new"


def test_when_the_quantizer_fails_the_package_file_is_served_and_nothing_half_written_stays(
        source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert embedded_llm.serving_model() == source
    assert "serving SmolLM2-135M-Instruct.Q4_1.gguf as it is" in capsys.readouterr().err
    folder = embedded_llm.served_path().parent
    assert not embedded_llm.served_path().exists()
    assert not list(folder.glob("*.part"))


def test_no_package_no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded_llm, "gguf_path", lambda: None)
    assert embedded_llm.serving_model() is None


def test_the_server_makes_every_model_call_on_one_thread() -> None:
    # llama-cpp-python's server hops between pool threads per step; ours keeps one (llm_server.py).
    import asyncio
    import threading

    from voicecore.launcher import llm_server

    def steps():
        for i in range(5):
            yield i, threading.get_ident()

    async def main() -> tuple[int, list[tuple[int, int]]]:
        first = await llm_server.run_in_threadpool(threading.get_ident)
        return first, [item async for item in llm_server.iterate_in_threadpool(steps())]

    first, items = asyncio.run(main())
    assert [i for i, _ in items] == [0, 1, 2, 3, 4]
    assert {thread for _, thread in items} == {first} != {threading.get_ident()}


def test_the_server_command_runs_the_wrapper_with_the_measured_flags(tmp_path: Path) -> None:
    argv = embedded_llm.server_argv(tmp_path / "m.gguf", 8123, threads=2, decode_threads=1)
    assert Path(argv[1]).name == "llm_server.py" and Path(argv[1]).is_file()
    flags = dict(zip(argv[2::2], argv[3::2]))
    assert flags["--n_threads_batch"] == "2" and flags["--n_threads"] == "1" and flags["--logits_all"] == "false"
    assert embedded_llm.SERVER_ENV["OMP_WAIT_POLICY"] == "ACTIVE" and int(embedded_llm.SERVER_ENV["GOMP_SPINCOUNT"]) <= 100_000
