"""The worker SDK: a dial-in ASR, TTS, assistant or LLM worker in a few lines (see ``Worker``)."""

from __future__ import annotations

from .backoff import Backoff
from .frames import AudioFrame, FrameError
from .job import Input, Job, JobError
from .worker import Worker, WorkerAuthError

__all__ = ["AudioFrame", "Backoff", "FrameError", "Input", "Job", "JobError", "Worker", "WorkerAuthError"]
