"""The default assistant of `voicecore up` (Examples/python/assistant.py) as a module: its ``app``
(prompt, ``messages``) and its ``facts`` (the retriever), for tests and benchmarks that send the
prompt it would send without running a worker."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from ..launcher.daemon_binary import default_script


def load_default_assistant() -> ModuleType:
    """A fresh module each call (the script builds its knowledge base when loaded)."""
    spec = importlib.util.spec_from_file_location("default_assistant", default_script())
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
