"""The whole assistant on one machine: voicecored, the LLM server and the ASR, TTS and assistant
workers, supervised, with every child's output in its own log file under the state directory."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

from . import embedded_llm
from .addresses import free_port, lan_address
from .config import Agent, UpConfig
from .daemon_binary import default_knowledge, default_script, find_daemon, web_root
from .supervisor import ChildSpec, Supervisor
from ..vision import VisionService
from ..vision.service import PATH as VISION_PATH

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


class StartupError(Exception):
    pass



def daemon_settings(c: UpConfig, vision_url: str = "") -> dict:
    """voicecored's --config object: the `daemon` settings, plus the Coordinator's switch for
    preemption and the vision endpoint it advertises to camera boards."""
    options = dict(c.daemon)
    agents = c.core_agents()
    if agents:
        options["coordinator"] = dict(options.get("coordinator") or {}, **agents)
    if not c.preemption:
        options["coordinator"] = dict(options.get("coordinator") or {}, preemptive_generation=False)
    if vision_url:
        options["coordinator"] = dict(options.get("coordinator") or {}, vision_url=vision_url, vision_token=c.vision_token)
    return options


def journal_args(c: UpConfig, state: Path) -> list[str]:
    """voicecored's journal flags: on by default under STATE_DIR/journal, unless turned off or the
    `daemon` settings name their own journal."""
    if not c.journal or "journal" in c.daemon:
        return []
    return ["--journal", str(state / "journal"), "--journal-max-mb", str(c.journal_max_mb), "--journal-keep", str(c.journal_keep)]


def asr_worker_args(c: UpConfig, model: str = "") -> list[str]:
    """A local ASR worker's options (`voicecore worker asr ...`) for Whisper ``model`` ("": tiny.en)."""
    args = ["--partial-interval", str(c.asr_partial_interval), "--cpu-threads", str(c.asr_threads),
            "--asr-window", str(c.asr_window)]
    if model:
        args += ["--model", model]
    if c.asr_final_beam:
        args += ["--asr-final-beam", str(c.asr_final_beam)]
    if c.preemption:
        args.append("--speculative")  # the hub's preemptive generation starts on these transcripts
    return args


def asr_label(model: str) -> str:
    """A Whisper model's short name: ``tiny.en`` for "", a directory's last part."""
    return Path(model).name if "/" in model else model or "tiny.en"


def asr_note(c: UpConfig) -> str:
    """What the local ASR workers hear, for the banner."""
    names = [asr_label(m) for m in c.asr_models()]
    if names == ["tiny.en"]:
        return "Whisper tiny.en: English only (other languages too: --asr-model tiny.en,base; docs/languages.md)"
    if len(names) == 1:
        return f"Whisper {names[0]}"
    return f"Whisper {', '.join(names)}: each utterance to a model that hears the device's language"


def json_line(line: str) -> dict | None:
    """A child's JSON-lines log entry, or None for any other line."""
    if not line.startswith("{"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


class Stack:
    def __init__(self, config: UpConfig, say: Callable[[str], None] = print) -> None:
        self.config = config
        self.say = say
        self.state = Path(config.state_dir)
        self.logs = self.state / "logs"
        self.supervisor = Supervisor(report=lambda m: say(f"voicecore up: {m}"), on_spawn=lambda _: self._write_status())
        self.ready = False
        self.port = 0
        self.llm_url = ""
        self.llm_note = ""
        self.llm_embedded = False  # the LLM is the llama.cpp server this stack started
        self._listening: asyncio.Future[int] | None = None
        self._registered: set[str] = set()
        self._registered_agents: set[str] = set()
        self._registered_names: set[str] = set()
        self._asr_workers: set[str] = set()  # the names of the local ASR workers started
        self._registered_changed = asyncio.Event()
        self.vision: VisionService | None = None
        self.vision_url = ""
        self.memory_port = 0
        self._memory_listening: asyncio.Future[int] | None = None

    # The daemon's JSON-lines log tells the port and which workers registered ----------------------

    def _daemon_line(self, line: str) -> None:
        entry = json_line(line)
        if entry is None:
            return
        if entry.get("event") == "listening" and self._listening is not None and not self._listening.done():
            self._listening.set_result(int(entry["port"]))
        if entry.get("kind") == "worker.registered":
            kinds = entry.get("to", "")
            self._registered.update(k for k in str(kinds).replace(" ", ",").split(",") if k)
            # reason: "agents=a,b languages=en" (each part only when the worker named some)
            for part in str(entry.get("reason") or "").split():
                if part.startswith("agents="):
                    self._registered_agents.update(a for a in part[len("agents="):].split(",") if a)
            self._registered_names.add(str(entry.get("text") or ""))
            self._registered_changed.set()

    def _worker_line(self, name: str) -> Callable[[str], None]:
        """Puts a worker's warnings and errors (its logging's `LEVEL message` lines) on the console
        too; its whole log stays in its file."""
        def seen(line: str) -> None:
            for level in (" WARNING ", " ERROR ", " CRITICAL "):
                if level in line:
                    self.supervisor.report(f"[{name}] {level.strip().lower()}: {line.split(level, 1)[1]}")
                    return
        return seen

    def _memory_line(self, line: str) -> None:
        entry = json_line(line)
        if entry is None:
            return
        if entry.get("event") == "listening" and self._memory_listening is not None and not self._memory_listening.done():
            self._memory_listening.set_result(int(entry["port"]))

    @property
    def memory_url(self) -> str:
        """The memory service this machine's assistant workers use."""
        return self.config.memory_url or (f"http://{self.local_host}:{self.memory_port}" if self.memory_port else "")

    @property
    def memory_public_url(self) -> str:
        """… and workers on other machines."""
        return self.config.memory_url or (f"http://{self.public_host}:{self.memory_port}" if self.memory_port else "")

    async def _start_memory(self) -> None:
        """`voicecore memory` over STATE_DIR/memory.sqlite3, unless --memory-url names an external one."""
        c = self.config
        if c.memory_url:
            return
        self._memory_listening = asyncio.get_running_loop().create_future()
        argv = self._python("memory", "--host", c.host, "--port", str(c.memory_port), "--db", str(self.state / "memory.sqlite3"))
        env = self._env()
        env["VOICECORE_MEMORY_TOKEN"] = c.memory_token  # not in argv: other users can read a command line
        spec = ChildSpec("memory", argv, self.logs / "memory.log", env=env, on_line=self._memory_line)
        await self.supervisor.start(spec)
        try:
            self.memory_port = await asyncio.wait_for(asyncio.shield(self._memory_listening), 30)
        except asyncio.TimeoutError:
            raise StartupError(f"the memory service did not start listening; see {spec.log_path}") from None
        # A restarted memory service must come back on the same port, or the workers could not find it.
        spec.argv[spec.argv.index("--port") + 1] = str(self.memory_port)

    def _python(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "voicecore", *args]

    def _env(self) -> dict[str, str]:
        path = os.environ.get("PYTHONPATH", "")
        return {"PYTHONPATH": PACKAGE_PARENT + (os.pathsep + path if path else "")}

    # Starting ------------------------------------------------------------------------------------

    async def start(self) -> None:
        c = self.config
        daemon = find_daemon(c.daemon_bin)
        if daemon is None:
            raise StartupError("voicecored not found: run `make build` (or set --daemon-bin / VOICECORED_BIN)")
        script = Path(c.script) if c.script else default_script()
        agents = c.agent_list()
        uses_default_script = not agents or any(not a.script for a in agents)
        if "assistant" in c.worker_kinds and uses_default_script and not script.is_file():
            raise StartupError(f"assistant script {script} not found (--script)")
        self.logs.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        self._listening = loop.create_future()

        await self._start_memory()
        llm_task = asyncio.create_task(self._start_llm())
        turn_task = asyncio.create_task(self._install_asr_models()) if "asr" in c.worker_kinds else None
        if c.vision_url:
            # Served here, beside the daemon: an upload is one HTTP request from a board to a model,
            # with no session state for the Coordinator (which only advertises the URL).
            self.vision = VisionService(c.vision_url, c.vision_model, c.vision_token,
                                        api_key=os.environ.get("VOICECORE_VISION_API_KEY", ""))
            port = await self.vision.start(c.host, c.vision_port)
            self.vision_url = f"http://{self.public_host}:{port}{VISION_PATH}"
        argv = [str(daemon), "--host", c.host, "--port", str(c.port), "--worker-token", c.worker_token,
                "--web-root", str(web_root()), "--device-tokens", c.device_tokens]
        argv += journal_args(c, self.state)
        daemon_options = daemon_settings(c, self.vision_url)
        if daemon_options:
            daemon_config = self.state / "voicecored.json"
            daemon_config.write_text(json.dumps(daemon_options, indent=2))
            argv[1:1] = ["--config", str(daemon_config)]
        # The admin token goes in the daemon's environment, not on its command line (ps shows that).
        daemon_env = {"VOICECORED_ADMIN_TOKEN": c.admin_token} if c.admin_token else {}
        daemon_spec = ChildSpec("voicecored", argv, self.logs / "voicecored.log", env=daemon_env, on_line=self._daemon_line,
                                stop_timeout=15)
        await self.supervisor.start(daemon_spec)
        try:
            self.port = await asyncio.wait_for(asyncio.shield(self._listening), 20)
        except asyncio.TimeoutError:
            raise StartupError(f"voicecored did not start listening; see {daemon_spec.log_path}") from None
        # A restarted daemon must come back on the same port, or the workers could not find it.
        daemon_spec.argv[daemon_spec.argv.index("--port") + 1] = str(self.port)

        await llm_task
        if turn_task is not None:
            await turn_task
        hub = f"ws://{self.local_host}:{self.port}/worker"
        for kind in c.worker_kinds:
            if kind == "assistant" and agents:
                for agent in agents:
                    await self._start_agent_worker(agent, hub, script)
                continue
            if kind == "asr":
                models = c.asr_models()
                for model in models:
                    await self._start_asr_worker(model, hub, named=len(models) > 1)
                continue
            # "--token=" keeps a user-given token that starts with "-" from reading as an option.
            args = ["worker", kind, "--hub", hub, f"--token={c.worker_token}", "--name", f"{kind}-local"]
            env = self._env()
            if kind == "assistant":
                args += ["--script", str(script.resolve()), "--slots", str(c.assistant_slots)]
                env.update(VOICECORE_LLM_URL=self.llm_url, VOICECORE_LLM_MODEL=c.llm_model,
                           KB_DIR=str(Path(c.kb_dir).resolve() if c.kb_dir else default_knowledge()),
                           KB_INDEX=str(self.state / "kb.vcidx"), VOICECORE_MEMORY_URL=self.memory_url,
                           VOICECORE_MEMORY_TOKEN=c.memory_token)
                if self.llm_embedded:
                    env["VOICECORE_LLM_WARM_UP"] = "1"  # the assistant primes the embedded server (warm_up, prime)
            else:
                args += ["--slots", str(c.tts_slots)]
            await self.supervisor.start(ChildSpec(f"{kind} worker", self._python(*args), self.logs / f"{kind}.log", env=env,
                                                  on_line=self._worker_line(f"{kind} worker")))
        await self._wait_registered()
        self.ready = True
        self._write_status()

    async def _start_asr_worker(self, model: str, hub: str, named: bool) -> None:
        """One ASR worker process for Whisper ``model``; ``named`` (one of several models): named by
        its model (``asr-base-local``, log ``asr-base.log``). It registers the languages it hears."""
        c = self.config
        label = "-" + asr_label(model) if named else ""
        args = ["worker", "asr", "--hub", hub, f"--token={c.worker_token}", "--name", f"asr{label}-local",
                "--slots", str(c.asr_slots), *asr_worker_args(c, model)]
        name = f"asr worker{label.replace('-', ' ', 1)}"
        self._asr_workers.add(f"asr{label}-local")
        await self.supervisor.start(ChildSpec(name, self._python(*args), self.logs / f"asr{label}.log", env=self._env(),
                                              on_line=self._worker_line(name)))

    async def _install_asr_models(self) -> None:
        """The ASR workers' Whisper weights when they are installed on demand (``--asr-model base``),
        then their end-of-turn model."""
        from ..asr import models

        if "base" in self.config.asr_models() and not models.installed(models.base_path()):
            try:
                await asyncio.to_thread(models.install, "base", None, self.say)
            except Exception as e:
                raise StartupError(f"Whisper base could not be installed ({e}); run scripts/install-whisper-base.sh") from e
        await self._install_turn_model()

    async def _start_agent_worker(self, agent: Agent, hub: str, script: Path) -> None:
        """One assistant worker process per agent: its script, prompt, LLM, knowledge and tools,
        registered as serving only that agent (docs/agents.md)."""
        c = self.config
        agent_script = Path(agent.script) if agent.script else script
        args = ["worker", "assistant", "--hub", hub, f"--token={c.worker_token}", "--name", f"assistant-{agent.name}",
                "--agent", agent.name, "--script", str(agent_script.resolve()), "--slots", str(agent.slots or c.assistant_slots)]
        env = self._env()
        env.update(VOICECORE_LLM_URL=agent.llm_url or self.llm_url, VOICECORE_LLM_MODEL=agent.llm_model or c.llm_model,
                   KB_DIR=agent.kb_dir or str(Path(c.kb_dir).resolve() if c.kb_dir else default_knowledge()),
                   KB_INDEX=str(self.state / f"kb-{agent.name}.vcidx"), VOICECORE_MEMORY_URL=self.memory_url, VOICECORE_MEMORY_TOKEN=c.memory_token,
                   VOICECORE_ASSISTANT_SLOTS=str(agent.slots or c.assistant_slots))
        if self.llm_embedded and not agent.llm_url:
            env["VOICECORE_LLM_WARM_UP"] = "1"  # the assistant primes the embedded server (warm_up, prime)
        if agent.system_prompt:
            env["VOICECORE_SYSTEM_PROMPT"] = agent.system_prompt
        if agent.tools is not None:
            env["VOICECORE_TOOLS"] = ",".join(agent.tools)
        await self.supervisor.start(ChildSpec(f"assistant {agent.name}", self._python(*args), self.logs / f"assistant-{agent.name}.log", env=env,
                                              on_line=self._worker_line(f"assistant {agent.name}")))

    async def _install_turn_model(self) -> None:
        """The ASR worker's end-of-turn model (Smart Turn, from the pipecat-ai wheel), once."""
        from ..asr import turn_model

        if turn_model.model_path().is_file():
            return
        self.say(f"voicecore up: installing the Smart Turn end-of-turn model into {turn_model.model_path()}")
        try:
            await asyncio.to_thread(turn_model.install)
        except Exception as e:  # no network: the hub decides on the transcript alone
            self.say(f"voicecore up: the Smart Turn model could not be installed ({e}); the end of turn is decided without it")

    async def _start_llm(self) -> None:
        c = self.config
        if c.no_llm:
            self.llm_note = "none (--no-llm): the assistant answers with the best passage of its knowledge base"
            return
        if c.llm_url:
            self.llm_url = c.llm_url
            self.llm_note = f"{c.llm_url} (--llm-url / VOICECORE_LLM_URL)"
            return
        why = embedded_llm.missing()
        if why:
            self.llm_note = (f"NONE — the embedded {embedded_llm.MODEL_NAME} is not available ({why}); install it with "
                             f"{embedded_llm.INSTALL_HINT}. Answering with the best passage of the knowledge base (--no-llm behaviour).")
            self.say(f"voicecore up: {self.llm_note}")
            return
        model = await asyncio.to_thread(embedded_llm.serving_model)
        assert model is not None
        port = free_port()
        spec = ChildSpec("llm", embedded_llm.server_argv(model, port, c.llm_threads, c.llm_decode_threads), self.logs / "llm.log", env=embedded_llm.SERVER_ENV)
        child = await self.supervisor.start(spec)
        url = f"http://127.0.0.1:{port}/v1"
        if await embedded_llm.wait_ready(url, c.llm_start_timeout):
            self.llm_url = url
            self.llm_embedded = True
            self.llm_note = f"{embedded_llm.MODEL_NAME} (llama.cpp, embedded) at {url}"
            return
        spec.restart = False
        if child.process and child.process.returncode is None:
            child.process.terminate()
        self.llm_note = (f"NONE — the embedded {embedded_llm.MODEL_NAME} server did not come up within {c.llm_start_timeout:.0f} s "
                         f"(log: {spec.log_path}). Answering with the best passage of the knowledge base (--no-llm behaviour).")
        self.say(f"voicecore up: {self.llm_note}")

    async def _wait_registered(self) -> None:
        wanted = set(self.config.worker_kinds)
        agents = {a.name for a in self.config.agent_list()} if "assistant" in wanted else set()
        deadline = time.monotonic() + self.config.ready_timeout
        while not (wanted <= self._registered and agents <= self._registered_agents and self._asr_workers <= self._registered_names):
            self._registered_changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = ", ".join(sorted(wanted - self._registered) + [f"assistant for agent {a}" for a in sorted(agents - self._registered_agents)]
                                    + sorted(self._asr_workers - self._registered_names))
                raise StartupError(f"workers not registered after {self.config.ready_timeout:.0f} s: {missing}; see {self.logs}/")
            try:
                await asyncio.wait_for(self._registered_changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    # Where to talk -------------------------------------------------------------------------------

    @property
    def local_host(self) -> str:
        return "127.0.0.1" if self.config.host in ("0.0.0.0", "::", "") else self.config.host

    @property
    def public_host(self) -> str:
        return lan_address() if self.config.host in ("0.0.0.0", "::", "") else self.config.host

    def status(self) -> dict[str, Any]:
        token = self.config.first_device_token
        return {"pid": os.getpid(), "http": f"http://{self.local_host}:{self.port}", "ws": f"ws://{self.local_host}:{self.port}",
                "ota": f"http://{self.public_host}:{self.port}/xiaozhi/ota/", "device_token": token,
                "worker_url": f"ws://{self.public_host}:{self.port}/worker", "llm": self.llm_url, "vision": self.vision_url,
                "memory": self.memory_public_url,
                "logs": {ch.spec.name: str(ch.spec.log_path) for ch in self.supervisor.children},
                "pids": {ch.spec.name: ch.process.pid for ch in self.supervisor.children if ch.process is not None},
                "ready": self.ready}

    def _write_status(self) -> None:
        if not self.port:
            return
        path = self.state / "up.json"
        path.with_suffix(".tmp").write_text(json.dumps(self.status(), indent=2))
        path.with_suffix(".tmp").replace(path)  # readers never see half a file

    def banner(self) -> str:
        s = self.status()
        page = s["http"] + "/" + (f"?token={s['device_token']}" if s["device_token"] else "")
        lines = [
            "",
            "VoiceCore is up. Talk to it:",
            f"  browser     {page}",
            f"              (from another machine: http://{self.public_host}:{self.port}/)",
            f"  device      OTA URL for a XiaoZhi device: {s['ota']}",
            f"  CLI         voicecore talk \"what is the capital of France\"      (or: voicecore talk --wav question.wav)",
            *([f"  speech      {asr_note(self.config)}"] if "asr" in self.config.worker_kinds else []),
            f"  LLM         {self.llm_note}",
            f"  vision      " + (f"{self.config.vision_url} ({self.config.vision_model or 'its first model'}); camera boards upload to {self.vision_url}"
                                 if self.vision_url else "none (--vision-url: camera boards' photos explained by a model that takes images)"),
            *([f"  agents      " + ", ".join(f"{a.name} ({a.language or 'hub language'})" for a in self.config.agent_list())
               + f"; default {self.config.core_agents()['bindings']['default']}"] if self.config.agents else []),
            f"  workers     {', '.join(self.config.worker_kinds) or 'none'} on this machine; more join at {s['worker_url']} "
            f"with --token {self.config.worker_token}",
            f"  memory      {s['memory']} " + ("(external, --memory-url)" if self.config.memory_url else f"({self.state / 'memory.sqlite3'})")
            + f"; assistant workers elsewhere: --memory-url {s['memory']} --memory-token {self.config.memory_token}",
            "  devices     " + ("token required (--device-tokens)" if self.config.device_tokens else "DEV MODE: any device may connect without a token"),
            "  admin API   " + (f"{s['http']}/api/v1/devices (Authorization: Bearer <--admin-token>)" if self.config.admin_token
                                else "disabled (--admin-token enables /api/v1/, docs/admin-api.md)"),
            f"  logs        {self.logs}/  ({', '.join(Path(p).name for p in s['logs'].values())})",
            *([f"  journal     {self.state / 'journal'}/  (voicecore replay {self.state / 'journal'})"] if journal_args(self.config, self.state) else []),
            "Ctrl-C stops everything.",
            "",
        ]
        return "\n".join(lines)

    async def stop(self) -> None:
        await self.supervisor.stop()
        if self.vision is not None:
            await self.vision.stop()
        status = self.state / "up.json"
        if status.exists():
            status.unlink()


async def run_stack(config: UpConfig, say: Callable[[str], None] = print) -> int:
    stack = Stack(config, say)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(stack.start())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done() and starting.exception() is None:
            say(stack.banner())
            await stopping
        elif starting.done():
            exc = starting.exception()
            say(f"voicecore up: {exc}")
            return 1
        else:
            starting.cancel()
        say("voicecore up: stopping (workers drain, then the daemon)…")
        return 0
    finally:
        stopping.cancel()
        await stack.stop()
        say("voicecore up: stopped")
