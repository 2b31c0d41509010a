"""The embedded LLM's server: llama-cpp-python's OpenAI-compatible server (``python -m
llama_cpp.server``, the same arguments) with every call into the model made on one thread.

The stock server runs each step of a completion on whichever thread of anyio's pool is free.
llama.cpp evaluates a prompt with OpenMP threads, and libgomp keeps one team of them per calling
thread: a call from another thread than the last finds its team cold (measured on this 2-core
machine, the default assistant's prompt to the first token in 63 ms from one thread against
95-120 ms from a pool). The model serves one request at a time anyway (the server's lock), so
one thread costs nothing.

The answer is written with up to ``--n_threads`` threads while nothing else wants the CPU, and
with one while something does (``DecodeThreads``): one token's work is small, and a second thread
helps only on an idle CPU (this 2-core machine, SmolLM2-135M Q8_0: 10.8 ms a token with two
threads against 14.4 ms with one when idle; beside two busy processes 21.5 ms against 13.7 ms)."""

from __future__ import annotations

import asyncio
import functools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator, TypeVar

T = TypeVar("T")

_MODEL_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
_DONE = object()


async def run_in_threadpool(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """starlette's ``run_in_threadpool``, on the model's one thread."""
    return await asyncio.get_running_loop().run_in_executor(_MODEL_THREAD, functools.partial(func, *args, **kwargs))


async def iterate_in_threadpool(iterator: Iterator[T]) -> AsyncIterator[T]:
    """starlette's ``iterate_in_threadpool``, each step on the model's one thread."""
    while True:
        item = await run_in_threadpool(next, iterator, _DONE)
        if item is _DONE:
            return
        yield item  # type: ignore[misc]


CPU_PRESSURE = Path("/proc/pressure/cpu")


def cpu_stall_us() -> int | None:
    """Microseconds since boot in which some runnable task waited for a CPU (Linux pressure stall
    information, the "some" line of /proc/pressure/cpu); None where the kernel does not keep it."""
    try:
        some = CPU_PRESSURE.read_text().split("\n", 1)[0]  # "some avg10=0.00 avg60=0.00 avg300=0.00 total=123"
        return int(some.rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


@dataclass
class DecodeThreads:
    """How many threads write the next token: ``most`` while no task waited for a CPU in the last
    window (at least ``window`` seconds: the prompt's evaluation, then the tokens since), one
    while tasks waited more than ``limit`` of it; after ``retry`` seconds on one thread, ``most``
    again (the window after tells). Without pressure information: one, always."""

    most: int
    stall: Callable[[], int | None] = cpu_stall_us
    clock: Callable[[], float] = time.monotonic
    window: float = 0.03
    limit: float = 0.3
    retry: float = 0.5
    threads: int = field(init=False)
    _since: float = field(init=False, default=0.0)
    _stalled: int | None = field(init=False, default=None)
    _retry_at: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        assert self.most >= 1
        self.threads = self.most if self.stall() is not None else 1

    def prompt(self) -> None:
        """A prompt's evaluation starts: the first window runs from here (the time before it, the
        ASR's pass that made the question, says nothing about the answer's tokens)."""
        self._since, self._stalled = self.clock(), self.stall()

    def step(self) -> int:
        now = self.clock()
        if self._stalled is None or now - self._since < self.window:
            return self.threads
        stalled = self.stall()
        if stalled is None:
            return self.threads
        pressure = (stalled - self._stalled) / 1e6 / (now - self._since)
        self._since, self._stalled = now, stalled
        if self.threads > 1 and pressure > self.limit:
            self.threads, self._retry_at = 1, now + self.retry
        elif self.threads == 1 and self.most > 1 and now >= self._retry_at:
            self.threads = self.most
        return self.threads


def adapt_decode_threads(llama_class: Any, policy_for: Callable[[int], DecodeThreads] = DecodeThreads) -> None:
    """Makes every ``llama_class`` model pick its decode threads per token (``policy_for(n_threads)``,
    a ``DecodeThreads``); a prompt keeps its ``n_threads_batch``."""
    evaluate = llama_class.eval

    def eval(self: Any, tokens: Any) -> None:
        policy = self.__dict__.get("_decode_threads")
        if policy is None:
            policy = self._decode_threads = policy_for(self.n_threads)
            if policy.threads != self.n_threads:
                self._ctx.set_n_threads(policy.threads, self.n_threads_batch)
        if len(tokens) > 1:
            policy.prompt()
        else:
            before = policy.threads
            if policy.step() != before:
                self._ctx.set_n_threads(policy.threads, self.n_threads_batch)
        evaluate(self, tokens)

    llama_class.eval = eval


def main() -> None:
    import llama_cpp
    import llama_cpp.server.app as app
    from llama_cpp.server.__main__ import main as serve

    app.run_in_threadpool = run_in_threadpool  # type: ignore[assignment]
    app.iterate_in_threadpool = iterate_in_threadpool  # type: ignore[assignment]
    adapt_decode_threads(llama_cpp.Llama)
    serve()


if __name__ == "__main__":
    main()
