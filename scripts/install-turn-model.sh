#!/usr/bin/env bash
# Installs Smart Turn v3.2 (the end-of-turn model, BSD-2) from the pipecat-ai wheel on PyPI into
# ~/.cache/voicecore/models (or $VOICECORE_TURN_MODEL): the ONNX file only, never pipecat itself,
# never a model hub. Returns at once when the file is there.
set -euo pipefail
PY=${PYTHON:-python3}
VERSION=1.14.0  # a wheel known to carry data/smart-turn-v3.2-cpu.onnx
dest=$(PYTHONPATH="$(dirname "$0")/../python" "$PY" -c "from voicecore.asr.turn_model import model_path; print(model_path())")
[[ -s $dest ]] && exit 0
echo "==> installing the Smart Turn v3.2 model (from the pipecat-ai $VERSION wheel) into $dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip download -q --no-deps --disable-pip-version-check -d "$tmp" "pipecat-ai==$VERSION"
"$PY" - "$tmp" "$dest" <<'EOF'
import sys, zipfile, pathlib
wheel = next(pathlib.Path(sys.argv[1]).glob("pipecat_ai-*.whl"))
dest = pathlib.Path(sys.argv[2])
dest.parent.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    data = z.read("pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx")
tmp = dest.with_suffix(".part")
tmp.write_bytes(data)
tmp.replace(dest)
print(f"    {len(data) / 1e6:.1f} MB")
EOF
