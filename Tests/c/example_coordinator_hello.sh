#!/bin/sh
# Runs Examples/c/coordinator_hello and checks the typed effects it prints.
set -eu
bin="$1/coordinator_hello"
out=$("$bin" '{"hello_timeout_ms":2000}')
echo "$out" | grep -q '^timer.set session=0 timer=1 at_us=2001000$'
echo "$out" | grep -q '^device.send session=12 {"type":"hello","transport":"websocket","session_id":"s12","audio_params":{"format":"opus","sample_rate":24000,"channels":1,"frame_duration":60}}$'
echo "$out" | grep -q '^device.close session=13 code=1008 hello-timeout$'
if "$bin" '{"bogus":1}' >/dev/null 2>err.txt; then echo "bad config accepted"; exit 1; fi
grep -q "bogus" err.txt
rm -f err.txt
echo ok
