import ctypes

import pytest

import voicecore
from voicecore import _native


def test_version_and_abi_match_the_header():
    assert voicecore.version().count(".") == 2
    assert _native.lib().vc_abi_version() == voicecore.ABI_VERSION


def test_strerror_names_codes():
    assert _native.strerror(0) == "ok"
    assert _native.strerror(-3) == "invalid UTF-8"
    assert _native.strerror(777) == "unknown status code"


def test_check_raises_error_with_handle_message():
    with pytest.raises(voicecore.Error) as info:
        _native.check(-8, lambda: b"JSON: unexpected end of input at byte 3")
    assert info.value.code == -8
    assert "byte 3" in str(info.value)
    with pytest.raises(voicecore.Error, match="invalid UTF-8"):
        _native.check(-3)


def test_missing_library_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("VOICECORE_LIB", str(tmp_path / "nope.so"))
    with pytest.raises(voicecore.LibraryNotFound, match="VOICECORE_LIB"):
        _native._load()


def test_cli_version(capsys):
    from voicecore.cli import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == voicecore.version()
