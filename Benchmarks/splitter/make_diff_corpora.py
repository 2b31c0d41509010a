"""Writes the two corpora the splitter's differential dump runs on (see perfcheck.sh):
OUT/bench.txt, the bench corpus, and OUT/rand.txt, 3 MB of random mixed-script pieces with invalid
UTF-8; replies are separated by 0x1E."""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

out_dir = sys.argv[1]
replies = bench.make_corpus(random.Random(bench.SEED))
open(os.path.join(out_dir, "bench.txt"), "wb").write("\x1e".join(replies).encode())
# random mixed-script corpus with invalid UTF-8
rng = random.Random(7)
pieces = ["Dr. ", "Mr. Smith", "e.g. ", "i.e.", "z.B. ", "т.е. ", "и т.д. ", "г. ", "U.S. Government", "U.S. The ",
  "3.14", "1. ", "2. ", "a. ", "b) ", "• ", "…", "...", ". . .", ". . . .", "[...]", "?", "!", "!?", ";", ":", ",", "，", "、",
  "。", "！", "？", "；", "」", "「", "『", "』", "《", "》", "\"", "'", "’", "“", "”", "«", "»", "(", ")", "[", "]",
  "<think>", "</think>", "<thi", "nk>", "**", "*", "_", "__", "~~", "~", "`", "```", "```py\n", "# ", "## ", "- ", "* ", "+ ", "> ",
  "[link](http://x.y/z)", "[1]", "😊", "👍🏽", "👨‍👩‍👧", "🇩🇪", "☀️", "❤", "\n", "\n\n", "  ", "\t", "\u00a0", "\u3000",
  "Hello", "world", "Это", "тест", "Москва", "父の", "家", "中文句子", "日本語です", "한국어", "Straße", "Éléphant", "hello", "I",
  "E", "p", "55", "1,000", "$3.50", "example.com", "a@b.c", "v1.2.3", "The", "It", "Он", "В", "Der", "snake_case", "।", "؟", "۔",
  "‼", "–", "—", "etc", "Inc", "Co", "P.M.", "a.m.", "Л.Н. Толстой", "と", "っ", " ", " ", " ", "x", "y"]
bad = [b"\xff", b"\xc3", b"\xe4\xb8", b"\xf0\x9f", b"\xf0\x9f\x98", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80", b"\xe0\x80\x80", b"\xf4\x90\x80\x80"]
out = bytearray()
while len(out) < 3_000_000:
    n = rng.randint(1, 80)
    rep = bytearray()
    for _ in range(n):
        if rng.random() < 0.03: rep += rng.choice(bad)
        else: rep += rng.choice(pieces).encode()
        if rng.random() < 0.3: rep += b" "
    out += rep + b"\x1e"
open(os.path.join(out_dir, "rand.txt"), "wb").write(bytes(out))
