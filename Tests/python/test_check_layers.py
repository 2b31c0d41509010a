"""scripts/check_layers.py: the daemon's tree passes it, and it fails on each kind of violation."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_layers.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_daemon_has_no_cycle_and_no_upward_include() -> None:
    result = run("--graph")
    assert result.returncode == 0, result.stderr
    assert "no cycle, no upward include" in result.stdout
    assert "[transport]" in result.stdout and "[hub]" in result.stdout


def test_a_cycle_between_modules_fails(tmp_path: Path) -> None:
    # x.c includes y.h and y.c includes x.h: a cycle of modules though no header includes itself.
    src = tree(tmp_path, {
        "device_session.h": "void device_send(void);\n",
        "device_session.c": '#include "device_session.h"\n#include "worker_link.h"\nvoid device_send(void) {\n}\n',
        "worker_link.h": "void worker_send(void);\n",
        "worker_link.c": '#include "worker_link.h"\n#include "device_session.h"\nvoid worker_send(void) {\n}\n',
    })
    result = run("--sources", str(src))
    assert result.returncode == 1
    assert "include cycle: device_session -> worker_link -> device_session" in result.stderr


def test_a_lower_layer_including_a_higher_one_fails(tmp_path: Path) -> None:
    src = tree(tmp_path, {
        "hub.h": "int hub_event(void);\n",
        "hub.c": '#include "hub.h"\nint hub_event(void) {\n    return 0;\n}\n',
        "transport.c": '#include "hub.h"\n',
    })
    result = run("--sources", str(src))
    assert result.returncode == 1
    assert "transport (transport) includes hub (hub): a lower layer includes a higher one" in result.stderr


def test_a_function_declared_in_another_files_header_fails(tmp_path: Path) -> None:
    # The god-header pattern: device_session.c's functions declared in transport.h.
    src = tree(tmp_path, {
        "transport.h": "void device_closed(void);\n",
        "device_session.c": '#include "transport.h"\nvoid device_closed(void) {\n}\n',
    })
    result = run("--sources", str(src))
    assert result.returncode == 1
    assert "device_session.c: device_closed() is exported but not declared in device_session.h" in result.stderr


def test_a_file_in_no_layer_fails(tmp_path: Path) -> None:
    src = tree(tmp_path, {"server.h": "struct server;\n"})
    result = run("--sources", str(src))
    assert result.returncode == 1
    assert "server: in no layer" in result.stderr


def test_a_module_calling_the_coordinator_fails(tmp_path: Path) -> None:
    # Only the hub calls vc_coordinator_*; a module below hands it events through its sink.
    src = tree(tmp_path, {
        "device_session.h": "void device_in(void);\n",
        "device_session.c": '#include "device_session.h"\nvoid device_in(void) {\n    vc_coordinator_handle(0, 0, 0);\n}\n',
        "hub.h": "void hub_run(void);\n",
        "hub.c": '#include "hub.h"\nvoid hub_run(void) {\n    vc_coordinator_handle(0, 0, 0);\n}\n',
    })
    result = run("--sources", str(src))
    assert result.returncode == 1
    assert "device_session.c: calls vc_coordinator_handle (only hub.c calls the Coordinator)" in result.stderr
    assert "hub.c:" not in result.stderr
