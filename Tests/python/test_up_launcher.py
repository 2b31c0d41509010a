"""`voicecore up`'s settings and its supervisor, with real child processes."""

from __future__ import annotations

import asyncio
import json
import random
import sys
from pathlib import Path

import pytest

from voicecore.launcher import ChildSpec, Supervisor
from voicecore.launcher.config import UpConfig


def test_settings_precedence_file_then_environment_then_flags(tmp_path):
    path = tmp_path / "up.json"
    path.write_text(json.dumps({"port": 9000, "llm_url": "http://file/v1", "workers": "tts", "daemon": {"log_level": "debug"}}))
    c = UpConfig()
    c.load_file(str(path))
    c.load_env({"VOICECORE_LLM_URL": "http://env/v1"})
    c.update({"port": 9100}, "flags")
    c.finish()
    assert (c.port, c.llm_url, c.worker_kinds, c.daemon) == (9100, "http://env/v1", ["tts"], {"log_level": "debug"})
    assert len(c.worker_token) >= 20 and c.state_dir.endswith("voicecore/up")


@pytest.mark.parametrize("content,error", [
    ('{"prot": 1}', "unknown setting 'prot'"),
    ('{"port": "80"}', "port must be int"),
    ('{"no_llm": 1}', "no_llm must be bool"),
    ('[1]', "a JSON object is expected"),
    ('{"port":', "config file"),
])
def test_bad_settings_are_clear_errors(tmp_path, content, error):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=error):
        UpConfig().load_file(str(path))


def test_unknown_worker_kind_is_an_error():
    c = UpConfig(workers="asr,gpu")
    with pytest.raises(ValueError, match="unknown kinds"):
        c.finish()


def test_asr_model_lists_start_one_worker_per_model():
    from voicecore.launcher.stack import asr_note, asr_worker_args

    assert "English only (other languages too: --asr-model tiny.en,base" in asr_note(UpConfig())
    assert asr_note(UpConfig(asr_model="tiny.en,base")).startswith("Whisper tiny.en, base: each utterance to a model that hears")
    assert UpConfig().asr_models() == [""] and UpConfig(asr_model="base").asr_models() == ["base"]
    assert UpConfig(asr_model=" tiny.en , base ").asr_models() == ["tiny.en", "base"]
    assert "--model" not in asr_worker_args(UpConfig(), "") and asr_worker_args(UpConfig(), "base")[-3:-1] == ["--model", "base"]
    for bad, error in (("tiny.en,,base", "empty name"), ("base,base", "named twice"), (",tiny.en", "empty name"), ("tiny.en,", "empty name")):
        with pytest.raises(ValueError, match=error):
            UpConfig(asr_model=bad).finish()


def test_restart_delay_doubles_and_is_capped():
    sup = Supervisor(report=lambda m: None, backoff_base=0.5, backoff_max=4.0, rng=random.Random(1))
    from voicecore.launcher.supervisor import Child

    child = Child(ChildSpec("x", ["true"], log_path=None))  # type: ignore[arg-type]
    delays = []
    for n in range(1, 7):
        child.failures_in_a_row = n
        delays.append(sup.restart_delay(child))
    assert 0.4 <= delays[0] <= 0.6 and 0.8 <= delays[1] <= 1.2 and 1.6 <= delays[2] <= 2.4
    assert all(3.2 <= d <= 4.8 for d in delays[3:])


def test_a_crashing_child_is_restarted_logged_and_stopped(tmp_path):
    reports: list[str] = []
    lines: list[str] = []

    async def main() -> None:
        sup = Supervisor(report=reports.append, backoff_base=0.05, backoff_max=0.1)
        crash = ChildSpec("crasher", [sys.executable, "-c", "print('starting'); raise SystemExit(3)"], tmp_path / "crasher.log",
                          on_line=lines.append)
        steady = ChildSpec("steady", [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"], tmp_path / "steady.log")
        c = await sup.start(crash)
        s = await sup.start(steady)
        for _ in range(200):
            if lines.count("starting") >= 3:  # the first run and two restarts have run
                break
            await asyncio.sleep(0.05)
        await sup.stop()
        assert c.restarts >= 2  # (its last run may be the one the stop ended)
        assert s.process is not None and s.process.returncode == -15  # SIGTERM
    asyncio.run(asyncio.wait_for(main(), 30))
    assert (tmp_path / "crasher.log").read_text().count("starting") >= 3
    assert lines.count("starting") >= 3
    assert any("crasher exited with code 3" in r and "crasher.log" in r for r in reports)
    assert (tmp_path / "steady.log").read_text() == "up\n"


def test_without_the_embedded_llm_up_says_so_and_answers_from_the_knowledge_base(tmp_path, monkeypatch):
    from voicecore.launcher import embedded_llm
    from voicecore.launcher.stack import Stack

    monkeypatch.setattr(embedded_llm, "missing", lambda: "llama-cpp-python is not installed")
    said: list[str] = []
    config = UpConfig(state_dir=str(tmp_path))
    config.finish()
    stack = Stack(config, say=said.append)
    asyncio.run(stack._start_llm())
    assert stack.llm_url == "" and stack.supervisor.children == []
    assert "llama-cpp-python is not installed" in said[0] and "--no-llm behaviour" in said[0] and "install-llm.sh" in said[0]


def test_generated_worker_tokens_never_read_as_options():
    """A urlsafe token could start with "-", and `voicecore worker --token -x…` then failed to parse
    (seen as a flaky e2e start-up). Generated tokens are hex; a given one is passed as --token=…."""
    from voicecore.cli import build_parser

    for _ in range(200):
        c = UpConfig()
        c.finish()
        assert not c.worker_token.startswith("-") and len(c.worker_token) >= 20
    args = build_parser().parse_args(["worker", "tts", "--hub", "ws://h/worker", "--token=-starts-with-dash"])
    assert args.token == "-starts-with-dash"


def test_no_preemption_turns_it_off_in_the_hub_and_the_asr_worker(tmp_path):
    """`voicecore up --no-preemption`: the Coordinator's preemptive_generation is false (the real
    daemon accepts the config) and the ASR worker sends no speculative transcripts."""
    import os
    import subprocess

    from voicecore.cli import build_parser
    from voicecore.launcher.stack import asr_worker_args, daemon_settings

    on, off = UpConfig(), UpConfig(daemon={"coordinator": {"fallback_text": "x"}, "log_level": "debug"})
    args = build_parser().parse_args(["up", "--no-preemption"])
    off.update({"preemption": args.preemption}, "flags")
    assert build_parser().parse_args(["up"]).preemption is None and on.preemption is True
    assert daemon_settings(on) == {} and "--speculative" in asr_worker_args(on)
    assert daemon_settings(off) == {"coordinator": {"fallback_text": "x", "preemptive_generation": False}, "log_level": "debug"}
    assert "--speculative" not in asr_worker_args(off)
    window = asr_worker_args(on).index("--asr-window")
    assert asr_worker_args(on)[window + 1] == "12.0"  # the short encoder window by default
    assert build_parser().parse_args(["worker", "asr", "--asr-window", "30"]).asr_window == 30.0
    assert off.daemon == {"coordinator": {"fallback_text": "x"}, "log_level": "debug"}  # the user's settings untouched
    assert build_parser().parse_args(["worker", "asr", "--speculative"]).speculative is True

    # The real daemon takes it: a bare hub (no workers, no LLM) comes up and logs no rejected config.
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "voicecore", "up", "--host", "127.0.0.1", "--port", "0", "--workers", "none",
                             "--no-llm", "--no-preemption", "--state-dir", str(state)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    try:
        lines = []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "VoiceCore is up" in line:
                break
        assert any("VoiceCore is up" in line for line in lines), "".join(lines)
        assert json.loads((state / "voicecored.json").read_text()) == {"coordinator": {"preemptive_generation": False}}
        log = (state / "logs" / "voicecored.log").read_text()
        assert "config_rejected" not in log
    finally:
        proc.terminate()
        proc.wait(30)


def test_up_records_a_journal_by_default_and_no_journal_turns_it_off(tmp_path):
    """`voicecore up` starts voicecored with --journal STATE_DIR/journal (rotated); the journal of
    the run replays to the same digest once it stops; `--no-journal` records nothing."""
    import os
    import subprocess

    from voicecore.cli import build_parser
    from voicecore.launcher.stack import journal_args

    state = tmp_path / "state"
    assert journal_args(UpConfig(), state) == ["--journal", str(state / "journal"), "--journal-max-mb", "64", "--journal-keep", "8"]
    assert journal_args(UpConfig(journal=False), state) == []
    assert journal_args(UpConfig(daemon={"journal": "/elsewhere"}), state) == []  # the daemon settings' own journal wins
    assert build_parser().parse_args(["up", "--no-journal"]).journal is False
    assert build_parser().parse_args(["up"]).journal is None

    def up(state_dir, *flags):
        proc = subprocess.Popen([sys.executable, "-m", "voicecore", "up", "--host", "127.0.0.1", "--port", "0", "--workers", "none",
                                 "--no-llm", "--state-dir", str(state_dir), *flags],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
        lines = []
        try:
            for line in proc.stdout:  # type: ignore[union-attr]
                lines.append(line)
                if "Ctrl-C stops everything" in line:
                    break
        finally:
            proc.terminate()
            proc.wait(30)
        return "".join(lines)

    banner = up(state)
    assert f"journal     {state / 'journal'}/" in banner, banner
    files = sorted((state / "journal").glob("journal-*.vcj"))
    assert len(files) == 1
    out = subprocess.run([sys.executable, "-m", "voicecore", "replay", str(state / "journal")], capture_output=True, text=True,
                         env=dict(os.environ), timeout=60)
    assert out.returncode == 0 and "OK: digest" in out.stdout and "ends cleanly" in out.stdout, out.stdout + out.stderr

    quiet = tmp_path / "quiet"
    banner = up(quiet, "--no-journal")
    assert "journal " not in banner and not (quiet / "journal").exists()


def test_daemon_killed_under_up_leaves_a_replayable_journal_and_a_new_run(tmp_path):
    """`kill -9` of voicecored under `voicecore up`: the supervisor restarts it, which starts a new
    journal run; the killed run's journal replays to its last complete record and says so."""
    import os
    import signal
    import subprocess
    import time

    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "voicecore", "up", "--host", "127.0.0.1", "--port", "0", "--workers", "none",
                             "--no-llm", "--state-dir", str(state)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if "Ctrl-C stops everything" in line:
                break
        first = json.loads((state / "up.json").read_text())["pids"]["voicecored"]
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        runs: set[str] = set()
        while time.monotonic() < deadline:
            runs = {p.name.rsplit("-", 1)[0] for p in (state / "journal").glob("journal-*.vcj")}
            if len(runs) == 2:
                break
            time.sleep(0.2)
        assert len(runs) == 2, runs
    finally:
        proc.terminate()
        proc.wait(30)
    killed = min(runs)[len("journal-"):]
    out = subprocess.run([sys.executable, "-m", "voicecore", "replay", str(state / "journal"), "--run", killed],
                         capture_output=True, text=True, env=dict(os.environ), timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ends without a closing record" in out.stdout and "OK: digest" in out.stdout, out.stdout
    newest = subprocess.run([sys.executable, "-m", "voicecore", "replay", str(state / "journal")],
                            capture_output=True, text=True, env=dict(os.environ), timeout=60)
    assert newest.returncode == 0 and "ends cleanly" in newest.stdout, newest.stdout + newest.stderr


def test_memory_settings():
    """`voicecore up` starts its own memory service with a random token unless --memory-url names an
    external one, which needs its token."""
    c = UpConfig()
    c.finish()
    assert c.memory_url == "" and len(c.memory_token) >= 20
    c = UpConfig()
    c.load_env({"VOICECORE_MEMORY_URL": "http://memory.lan:8700", "VOICECORE_MEMORY_TOKEN": "shared-secret"})
    c.finish()
    assert (c.memory_url, c.memory_token) == ("http://memory.lan:8700", "shared-secret")
    with pytest.raises(ValueError, match="--memory-url needs --memory-token"):
        UpConfig(memory_url="http://memory.lan:8700").finish()
    with pytest.raises(ValueError, match="http:// or https://"):
        UpConfig(memory_url="memory.lan:8700", memory_token="t").finish()


def test_agents_become_the_cores_config_and_binding_tokens_become_device_tokens(tmp_path):
    (tmp_path / "story.py").write_text("")
    path = tmp_path / "agents.json"
    path.write_text(json.dumps({
        "device_tokens": "t1",
        "agents": {"kitchen": {"language": "en", "voice": "en-gb", "system_prompt": "Cook."},
                   "story": {"script": "story.py", "language": "ru", "budgets": {"device": {"turns_per_minute": 0}}}},
        "bindings": {"devices": {"aa:01": "story"}, "tokens": {"t2": "story"}},
        "budgets": {"device": {"turns_per_minute": 4}, "refusal_text": "Later."},
    }))
    c = UpConfig()
    c.load_file(str(path))
    c.finish()
    agents = c.agent_list()
    assert [a.name for a in agents] == ["kitchen", "story"] and agents[1].script == str((tmp_path / "story.py").resolve())
    assert c.core_agents() == {
        "agents": {"kitchen": {"language": "en", "voice": "en-gb"}, "story": {"language": "ru", "budgets": {"device": {"turns_per_minute": 0}}}},
        "bindings": {"devices": {"aa:01": "story"}, "tokens": {"t2": "story"}, "default": "kitchen"},  # the first agent
        "budgets": {"device": {"turns_per_minute": 4}, "refusal_text": "Later."},
    }
    assert c.device_tokens == "t1,t2"
    from voicecore.launcher.stack import daemon_settings

    assert daemon_settings(c)["coordinator"]["bindings"]["tokens"] == {"t2": "story"}


@pytest.mark.parametrize("content,error", [
    ({"agents": {"a": {}}, "bindings": {"tokens": {"t": "b"}}}, 'a token is bound to unknown agent "b"'),
    ({"agents": {"a": {"kb_dir": "nowhere"}}}, "kb_dir .* is not a folder"),
    ({"agents": {"a b": {}}}, "agent name 'a b'"),
    ({"agents": {"a": {"slots": "4"}}}, "slots must be int"),
    ({"agents": {"a": {}}, "bindings": {"device": {}}}, 'unknown key "bindings.device"'),
    ({"agents": {"a": {"budgets": {"devce": {}}}}}, 'unknown key "agents.a.budgets.devce"'),
    ({"budgets": {"device": {"turns_per_minute": 1.5}}}, "budgets.device.turns_per_minute must be an integer"),
    ({"daemon": {"coordinator": {"turn": {"min_silence_ms": "x"}}}}, "turn.min_silence_ms must be an integer"),
    ({"daemon": {"coordinator": []}}, "daemon.coordinator must be an object"),
])
def test_bad_agents_are_clear_errors(tmp_path, content, error):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    c = UpConfig()
    c.load_file(str(path))
    with pytest.raises(ValueError, match=error):
        c.finish()


def test_up_admin_token_opens_the_admin_api_and_stays_off_the_command_line(tmp_path):
    """`voicecore up --admin-token T` (or VOICECORE_ADMIN_TOKEN): the real daemon answers /api/v1/
    to that bearer token only; the token reaches it in its environment, not in its argv."""
    import http.client
    import os
    import subprocess

    def get(port: int, token: str | None) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/api/v1/devices", headers={"Authorization": f"Bearer {token}"} if token else {})
        status = conn.getresponse().status
        conn.close()
        return status

    for how in ("flag", "env"):
        state = tmp_path / how
        argv = [sys.executable, "-m", "voicecore", "up", "--host", "127.0.0.1", "--port", "0", "--workers", "none", "--no-llm",
                "--no-journal", "--state-dir", str(state)]
        env = dict(os.environ)
        env.pop("VOICECORE_ADMIN_TOKEN", None)
        if how == "flag":
            argv += ["--admin-token", "op-secret"]
        else:
            env["VOICECORE_ADMIN_TOKEN"] = "op-secret"
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            lines = []
            for line in proc.stdout:  # type: ignore[union-attr]
                lines.append(line)
                if "Ctrl-C stops everything" in line:  # the banner's last line
                    break
            assert any("admin API" in line and "/api/v1/devices" in line for line in lines), "".join(lines)
            status = json.loads((state / "up.json").read_text())
            port = int(status["http"].rsplit(":", 1)[1])
            assert get(port, "op-secret") == 200
            assert get(port, "wrong") == 403 and get(port, None) == 401
            daemon_pid = status["pids"]["voicecored"]
            cmdline = Path(f"/proc/{daemon_pid}/cmdline").read_bytes().decode(errors="replace")
            assert "op-secret" not in cmdline
        finally:
            proc.terminate()
            proc.wait(30)
