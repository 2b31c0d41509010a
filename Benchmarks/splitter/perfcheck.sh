#!/bin/sh
# Differential and instruction-count check for splitter speed work.
#   perfcheck.sh DIR BASE.so NEW.so
# Builds the two drivers into DIR, writes the corpora there (once), dumps every segment with both
# libraries and compares the dumps byte for byte, then counts NEW.so's instructions per MB with
# callgrind. Build a library with
#   swift build -c release --product VoiceCore --scratch-path .build-rel -Xswiftc -static-stdlib
# and copy .build-rel/release/libVoiceCore.so aside (BASE.so from main, NEW.so from the branch).
set -e
dir=$1; base=$2; new=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
cc -O2 -o "$dir/dump_segments" "$here/dump_segments.c" -ldl
cc -O2 -o "$dir/callgrind_pass" "$here/callgrind_pass.c" -ldl
[ -f "$dir/rand.txt" ] || python3 "$here/make_diff_corpora.py" "$dir"
for c in bench rand; do
  [ -f "$dir/base-$c.dump" ] || "$dir/dump_segments" "$base" "$dir/$c.txt" "$dir/base-$c.dump"
  "$dir/dump_segments" "$new" "$dir/$c.txt" "$dir/new-$c.dump"
  cmp "$dir/base-$c.dump" "$dir/new-$c.dump"
done
echo "dumps byte-identical"
# valgrind 3.19 cannot read the debug info the C kernels (Sources/VoiceCoreKernels) bring into
# the library, so it counts a copy without debug info (symbols stay; counts are the same).
objcopy --strip-debug "$new" "$dir/counted.so"
valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" --toggle-collect=pass \
  "$dir/callgrind_pass" "$dir/counted.so" "$dir/bench.txt" > "$dir/callgrind.log" 2>&1 || { tail -5 "$dir/callgrind.log"; exit 1; }
grep -E "bytes|Collected" "$dir/callgrind.log"
