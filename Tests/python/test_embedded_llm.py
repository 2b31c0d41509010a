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


def _requantize_into(made: list[tuple[Path, Path]]):
    def requantize(src: Path, dest: Path) -> Path:
        made.append((src, dest))
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b"new")
        return dest

    return requantize


def test_a_fresh_copy_is_reused_without_running_the_quantizer(source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[Path, Path]] = []
    monkeypatch.setattr(embedded_llm, "requantize", _requantize_into(made))
    copy = embedded_llm.serving_model()
    assert copy == embedded_llm.served_path() and len(made) == 1
    monkeypatch.setattr(embedded_llm, "requantize", lambda *_: pytest.fail("the quantizer ran again"))
    assert embedded_llm.serving_model() == copy


def test_a_package_file_replaced_by_an_older_dated_one_is_converted_again(source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[Path, Path]] = []
    monkeypatch.setattr(embedded_llm, "requantize", _requantize_into(made))
    embedded_llm.serving_model()
    source.write_bytes(b"GGUF" + b"\1" * 80)  # another version of the package...
    old = time.time() - 3600
    os.utime(source, (old, old))  # ...dated before the copy was made
    assert embedded_llm.serving_model() == embedded_llm.served_path()
    assert len(made) == 2


def test_a_copy_without_its_stamp_is_made_again(source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = embedded_llm.served_path()
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"of unknown origin")
    made: list[tuple[Path, Path]] = []
    monkeypatch.setattr(embedded_llm, "requantize", _requantize_into(made))
    assert embedded_llm.serving_model() == copy and made == [(source, copy)] and copy.read_bytes() == b"new"


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
    argv = embedded_llm.server_argv(tmp_path / "m.gguf", 8123)
    assert Path(argv[1]).name == "llm_server.py" and Path(argv[1]).is_file()
    flags = dict(zip(argv[2::2], argv[3::2]))
    assert flags["--n_threads_batch"] == "2" and flags["--n_threads"] == "2" and flags["--logits_all"] == "false"
    assert flags["--interrupt_requests"] == "false"  # a second request must not end the one streaming
    assert embedded_llm.SERVER_ENV["OMP_WAIT_POLICY"] == "ACTIVE" and int(embedded_llm.SERVER_ENV["GOMP_SPINCOUNT"]) <= 100_000


class Machine:
    """A clock and a CPU-pressure counter the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0
        self.stalled_us: int | None = 0

    def clock(self) -> float:
        return self.now

    def stall(self) -> int | None:
        return self.stalled_us

    def run(self, seconds: float, pressure: float) -> None:
        self.now += seconds
        assert self.stalled_us is not None
        self.stalled_us += int(seconds * pressure * 1e6)


def decode_threads(machine: Machine, most: int = 2) -> "llm_server.DecodeThreads":
    from voicecore.launcher import llm_server

    return llm_server.DecodeThreads(most, stall=machine.stall, clock=machine.clock)


def prompted(machine: Machine) -> "llm_server.DecodeThreads":
    """A policy whose prompt's evaluation has just started."""
    policy = decode_threads(machine)
    policy.prompt()
    return policy


def test_an_idle_cpu_gets_every_decode_thread() -> None:
    machine = Machine()
    policy = prompted(machine)
    machine.run(0.06, pressure=0.05)  # the prompt: only the server's own threads
    assert [policy.step() for _ in range(3)] == [2, 2, 2]
    machine.run(0.04, pressure=0.0)
    assert policy.step() == 2


def test_a_busy_cpu_gets_one_decode_thread_and_two_again_when_it_is_free() -> None:
    machine = Machine()
    policy = prompted(machine)
    machine.run(0.06, pressure=0.5)  # another process wanted the CPU during the prompt
    assert policy.step() == 1
    machine.run(0.04, pressure=0.0)  # one thread beside it: nobody waits, but the retry is not due
    assert policy.step() == 1
    machine.run(0.5, pressure=0.0)
    assert policy.step() == 2  # the retry
    machine.run(0.04, pressure=0.6)  # still busy: back to one
    assert policy.step() == 1
    machine.run(0.6, pressure=0.0)
    assert policy.step() == 2
    machine.run(0.04, pressure=0.0)  # free now: two stay
    assert policy.step() == 2


def test_the_window_before_a_prompt_does_not_count() -> None:
    # The ASR's pass that made the question kept the CPU busy just before the prompt.
    machine = Machine()
    policy = decode_threads(machine)
    machine.run(0.2, pressure=0.9)
    policy.prompt()
    machine.run(0.05, pressure=0.0)
    assert policy.step() == 2


def test_steps_inside_one_window_keep_the_threads() -> None:
    machine = Machine()
    policy = prompted(machine)
    machine.run(0.01, pressure=1.0)
    assert policy.step() == 2  # 10 ms is too short a window to judge
    machine.run(0.03, pressure=1.0)
    assert policy.step() == 1


def test_without_pressure_information_one_decode_thread() -> None:
    machine = Machine()
    machine.stalled_us = None
    policy = decode_threads(machine)
    policy.prompt()
    machine.now += 1.0
    assert policy.step() == 1
    assert decode_threads(Machine(), most=1).step() == 1


def llama_like() -> type:
    """A stand-in for llama_cpp.Llama with what adapt_decode_threads touches: its thread counts, its
    context's set_n_threads (recorded) and eval (the token counts it was given)."""

    class Context:
        def __init__(self) -> None:
            self.calls: list[tuple[int, int]] = []

        def set_n_threads(self, threads: int, batch: int) -> None:
            self.calls.append((threads, batch))

    class Model:
        n_threads, n_threads_batch = 2, 2

        def __init__(self) -> None:
            self._ctx = Context()
            self.evaluated: list[int] = []

        def eval(self, tokens: list[int]) -> None:
            self.evaluated.append(len(tokens))

    return Model


def test_the_server_sets_the_threads_on_the_model_only_when_they_change() -> None:
    from voicecore.launcher import llm_server

    machine = Machine()
    Model = llama_like()
    llm_server.adapt_decode_threads(Model, lambda most: decode_threads(machine, most))
    model = Model()
    model.eval([1, 2, 3])  # the prompt
    machine.run(0.05, pressure=0.8)
    model.eval([4])
    machine.run(0.01, pressure=0.8)
    model.eval([5])
    assert model.evaluated == [3, 1, 1]
    assert model._ctx.calls == [(1, 2)]  # once, to one decode thread; the prompt keeps two


def test_without_pressure_information_the_model_decodes_with_one_thread_from_the_start() -> None:
    from voicecore.launcher import llm_server

    machine = Machine()
    machine.stalled_us = None
    Model = llama_like()
    llm_server.adapt_decode_threads(Model, lambda most: decode_threads(machine, most))
    model = Model()
    model.eval([1, 2])
    model.eval([3])
    model.eval([4])
    assert model._ctx.calls == [(1, 2)] and model.evaluated == [2, 1, 1]


def test_every_model_file_lives_in_one_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from voicecore.asr import models, turn_model
    from voicecore.cache import models_dir

    for name in ("VOICECORE_LLM_GGUF", "VOICECORE_TURN_MODEL", "VOICECORE_WHISPER_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tmp_path / "voicecore" / "models"
    assert models_dir() == folder
    assert {embedded_llm.served_path().parent, turn_model.model_path().parent, models.base_path().parent} == {folder}
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # set but empty: the default, not a folder relative to the cwd
    assert models_dir() == Path.home() / ".cache" / "voicecore" / "models"
