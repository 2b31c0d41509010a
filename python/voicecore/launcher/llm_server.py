"""The embedded LLM's server: llama-cpp-python's OpenAI-compatible server (``python -m
llama_cpp.server``, the same arguments) with every call into the model made on one thread.

The stock server runs each step of a completion on whichever thread of anyio's pool is free.
llama.cpp evaluates a prompt with OpenMP threads, and libgomp keeps one team of them per calling
thread: a call from another thread than the last finds its team cold (measured on this 2-core
machine, the default assistant's prompt to the first token in 63 ms from one thread against
95-120 ms from a pool). The model serves one request at a time anyway (the server's lock), so
one thread costs nothing."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
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


def main() -> None:
    import llama_cpp.server.app as app
    from llama_cpp.server.__main__ import main as serve

    app.run_in_threadpool = run_in_threadpool  # type: ignore[assignment]
    app.iterate_in_threadpool = iterate_in_threadpool  # type: ignore[assignment]
    serve()


if __name__ == "__main__":
    main()
