#!/bin/sh
# Runs Examples/c/split_stdin on mixed-language input and checks each printed segment.
set -eu
bin="$1/split_stdin"
out=$(printf 'Hello Dr. Smith. It costs $3.50 today! 你好。今天天气很好！ Привет, т.е. мир. **Bold** 😊 end' | "$bin" '{"first_segment":"sentence"}')
expected=$(printf 'Hello Dr. Smith.\nIt costs $3.50 today!\n你好。\n今天天气很好！\nПривет, т.е. мир.\nBold end\t😊')
if [ "$out" != "$expected" ]; then
  echo "unexpected output:"; echo "$out"; echo "expected:"; echo "$expected"; exit 1
fi
if "$bin" '{"bogus":1}' </dev/null 2>err.txt; then echo "bad options accepted"; exit 1; fi
grep -q "unknown splitter option 'bogus'" err.txt
rm -f err.txt
echo ok
