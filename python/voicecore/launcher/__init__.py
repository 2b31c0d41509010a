"""``voicecore up``: the daemon, the default workers and the LLM as one supervised assistant."""

from .supervisor import ChildSpec, Supervisor

__all__ = ["ChildSpec", "Supervisor"]
