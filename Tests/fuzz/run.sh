#!/usr/bin/env bash
# Builds the libFuzzer targets of the daemon's network parsers with clang and runs each.
#   Tests/fuzz/run.sh SECONDS   (make fuzz: 120 s each; make test: a short run)
set -euo pipefail
SECONDS_EACH=${1:-10}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${FUZZ_BUILD:-$ROOT/build-fuzz}
CLANG=${CLANG:-}
for c in "$CLANG" /opt/swift/usr/bin/clang clang; do
  [[ -n "$c" ]] && command -v "$c" >/dev/null && { CLANG=$c; break; }
done
mkdir -p "$OUT"
SRC=$ROOT/Sources/voicecored
PARSERS="$SRC/frame_header.c $SRC/http_request.c $SRC/frame_guard.c -DFRAME_GUARD_NO_INTERPOSE"
for target in device_frame worker_frame http_request frame_guard; do
  bin=$OUT/fuzz_$target
  if [[ ! -x $bin || $ROOT/Tests/fuzz/fuzz_$target.c -nt $bin || -n $(find $SRC -name '*.c' -newer "$bin" | head -1) ]]; then
    "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$SRC" \
      $(pkg-config --cflags jansson) "$ROOT/Tests/fuzz/fuzz_$target.c" $PARSERS $(pkg-config --libs jansson) \
      -o "$bin" 2> >(grep -v "Cannot export local symbol" >&2)
  fi
  corpus=$OUT/corpus/$target
  mkdir -p "$corpus"
  cp -n "$ROOT/Tests/fuzz/corpus/$target/"* "$corpus/" 2>/dev/null || true
  echo "==> fuzz_$target for ${SECONDS_EACH}s"
  status=0
  (cd "$OUT" && "$bin" -max_total_time="$SECONDS_EACH" -max_len=4096 -print_final_stats=1 "$corpus" >"$OUT/fuzz_$target.log" 2>&1) || status=$?
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY|Test unit written" "$OUT/fuzz_$target.log" || true
  [[ $status -eq 0 ]] || { echo "fuzz_$target FAILED (log: $OUT/fuzz_$target.log)" >&2; exit 1; }
done
