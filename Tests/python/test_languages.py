"""Language plumbing that needs no model run: error rates over CJK text, the reply-language line of
the assistant's prompt, and the ASR model names (`--model tiny.en|base|DIR`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicecore.asr import models
from voicecore.assistant.app import reply_language
from voicecore.testing.wer import word_error_rate, words


def test_chinese_and_japanese_count_characters_and_other_scripts_count_words():
    assert words("今天天气怎么样？") == ["今", "天", "天", "气", "怎", "么", "样"]
    assert words("イタリアの首都はどこ? OK 12") == ["イ", "タ", "リ", "ア", "の", "首", "都", "は", "ど", "こ", "ok", "12"]
    assert words("Какая сегодня погода?") == ["какая", "сегодня", "погода"]
    assert words("What's in the Küche, o'clock?") == ["what's", "in", "the", "küche", "o'clock"]
    assert word_error_rate("今天天气怎么样？", "今天天气怎样") == pytest.approx(1 / 7)  # one character dropped
    assert word_error_rate("Mach das Licht aus.", "mach das licht aus") == 0.0


def test_the_prompt_asks_for_the_devices_language_except_english():
    assert reply_language("en") == "" and reply_language("en-US") == "" and reply_language("") == ""
    assert reply_language("ru") == " Always answer in Russian."
    assert reply_language("zh_CN") == " Always answer in Chinese."
    assert reply_language("xx") == " Always answer in xx."


def test_model_names_resolve_or_say_how_to_install(tmp_path, monkeypatch):
    assert models.resolve("") is None and models.resolve("tiny.en") is None  # the bundled default
    monkeypatch.setenv("VOICECORE_WHISPER_BASE", str(tmp_path / "base"))
    with pytest.raises(models.ModelMissing, match="install-whisper-base.sh"):
        models.resolve("base")
    with pytest.raises(models.ModelMissing, match="no model.bin"):
        models.resolve(str(tmp_path))
    base = tmp_path / "base"
    base.mkdir()
    for name in ("model.bin", *models.BASE_FILES):
        (base / name).write_bytes(b"x")
    assert models.resolve("base") == base
    assert models.install("base") == base  # installed: no download
    with pytest.raises(ValueError):
        models.install("tiny.en", dest=Path(tmp_path / "t"))


def test_the_engine_of_a_model_name_is_the_one_the_worker_runs(tmp_path, monkeypatch):
    """`voicecore worker asr --model` and Benchmarks/turn build their engine with load_engine."""
    tiny = models.load_engine("tiny.en", cpu_threads=1, window_s=10)
    assert tiny.name == "faster-whisper:tiny.en" and tiny.english_only and tiny.window_s == 10
    monkeypatch.setenv("VOICECORE_WHISPER_BASE", str(tmp_path / "none"))
    with pytest.raises(models.ModelMissing, match="install-whisper-base.sh"):
        models.load_engine("base")
