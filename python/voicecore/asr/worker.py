"""The ASR worker: one job = one utterance of one session, audio streamed in, text streamed out."""

from __future__ import annotations

import asyncio
import logging

from ..worker import Job, JobError, Worker
from .engine import SAMPLE_RATE, AsrEngine
from .recognizer import RecognizerConfig, StreamingRecognizer, TurnModel

log = logging.getLogger("voicecore.asr")


def load_turn_model() -> TurnModel | None:
    """Smart Turn for hub endpointing, loaded once per worker process; None (with one warning) when
    its file is not installed: the worker then sends no ``turn`` evidence."""
    from .turn_model import SmartTurn, TurnModelMissing

    try:
        return SmartTurn()
    except TurnModelMissing as e:
        log.warning("%s; sending no turn-model evidence", e)
        return None


def asr_handler(engine: AsrEngine, config: RecognizerConfig | None = None, turn_model: TurnModel | None = None):
    async def recognize(job: Job) -> None:
        rate = job.params.get("sample_rate", SAMPLE_RATE)
        if rate != SAMPLE_RATE:
            raise JobError(f"asr sample_rate must be {SAMPLE_RATE}, got {rate!r}")
        mode = str(job.params.get("mode") or "auto")
        if mode not in ("auto", "manual", "realtime"):
            raise JobError(f"asr mode must be auto, manual or realtime, got {mode!r}")
        endpointing = str(job.params.get("endpointing") or "worker")
        if endpointing not in ("worker", "hub"):
            raise JobError(f"asr endpointing must be worker or hub, got {endpointing!r}")
        recognizer = StreamingRecognizer(engine, job.output, config, language=str(job.params.get("language") or ""), mode=mode,
                                         endpointing=endpointing, turn_model=turn_model)
        async def listen() -> None:
            async for pcm in job.audio():
                if await recognizer.feed(pcm):
                    return
            await recognizer.finish()

        # An early end (the speculative text completed during the pause) sends the final from its
        # own task, between audio chunks: the job is over then, not at the next chunk.
        listening = asyncio.create_task(listen())
        ended = asyncio.create_task(recognizer.ended.wait())
        try:
            await asyncio.wait({listening, ended}, return_when=asyncio.FIRST_COMPLETED)
            if listening.done():
                listening.result()
            elif recognizer.early_task is not None:
                await recognizer.early_task
            if recognizer.final_sent:
                log.info("utterance ended: %s", recognizer.end_reason)  # Benchmarks/e2e counts the early ends
        finally:
            # Every task of the job has ended when the handler returns, however it ended (cancel included).
            for task in (listening, ended):
                task.cancel()
            await asyncio.gather(listening, ended, return_exceptions=True)
            await recognizer.close()

    return recognize


def asr_worker(engine: AsrEngine, slots: int = 2, name: str = "asr", config: RecognizerConfig | None = None,
               turn_model: TurnModel | None = None) -> Worker:
    """``turn_model``: the end-of-turn model for hub endpointing (``load_turn_model()``; None: no ``turn`` events)."""
    worker = Worker(slots={"asr": slots}, name=name, models=[engine.name], languages=list(getattr(engine, "languages", ())))
    worker.handler("asr")(asr_handler(engine, config, turn_model))
    return worker
