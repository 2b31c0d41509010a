"""Thread settings of a worker process, made before the libraries that read them load."""

from __future__ import annotations

import os
import sys


def one_blas_thread() -> None:
    """Makes numpy's BLAS (OpenBLAS) single-threaded in this process unless the environment already
    says (an assistant script with large matrix products sets ``OPENBLAS_NUM_THREADS`` itself); it
    must run before numpy is imported, which reads the setting once. The default workers' matrix
    products are small (the mel filter bank of a Whisper pass and of Smart Turn), and OpenBLAS's
    idle threads busy-wait after each one, holding a core that the CTranslate2 encoder running next
    needs, or the LLM server beside the worker: on 2 cores the pause's pass beside Smart Turn took
    169-185 ms with OpenBLAS's default threads, 144-148 ms with one (docs/turn-latency.md)."""
    if "numpy" not in sys.modules:  # too late otherwise (a caller in-process): leave its environment alone
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
