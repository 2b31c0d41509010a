"""voicecore.Coordinator: a whole turn driven from Python, timers, rejections and the event log."""

import json

import pytest

import voicecore
from voicecore.coordinator import EventKind, event_struct


def register(c, name, kind, now=0):
    c.handle({"type": "worker.connected", "worker": name}, now)
    return c.handle(
        {"type": "worker.message", "worker": name,
         "message": {"type": "register", "protocol": 1, "kinds": [kind], "slots": {kind: 2}}},
        now,
    )


def sent(effects, **match):
    return [e for e in effects if all(e.get(k) == v for k, v in match.items())]


def job_of(effects, kind):
    jobs = [e["message"] for e in effects if e["type"] == "worker.send" and e["message"]["type"] == "job"
            and e["message"]["kind"] == kind]
    assert jobs, f"no {kind} job in {effects}"
    return jobs[-1]


def test_full_turn_from_python():
    c = voicecore.Coordinator({"heartbeat_ms": 60000})
    for name, kind in [(1, "asr"), (2, "assistant"), (3, "tts")]:
        assert sent(register(c, name, kind), type="worker.send")[0]["message"]["type"] == "registered"
    c.handle({"type": "device.connected", "session": 1, "device_id": "esp32", "protocol_version": 1}, 1000)
    hello = c.handle({"type": "device.message", "session": 1,
                      "message": {"type": "hello", "version": 1, "transport": "websocket"}}, 1000)
    reply = sent(hello, type="device.send")[0]["message"]
    assert reply == {"type": "hello", "transport": "websocket", "session_id": "s1",
                     "audio_params": {"format": "opus", "sample_rate": 24000, "channels": 1, "frame_duration": 60}}
    asr = job_of(c.handle({"type": "device.message", "session": 1,
                           "message": {"type": "listen", "state": "start", "mode": "manual"}}, 2000), "asr")
    assert asr["params"]["mode"] == "manual"
    fx = c.handle({"type": "device.audio", "session": 1}, 3000, data=b"\x01\x00" * 960)
    audio = sent(fx, type="worker.audio")  # the PCM as bytes, for the job's binary frame
    assert audio[0]["worker"] == 1 and audio[0]["job"] == asr["job"] and audio[0]["data"] == b"\x01\x00" * 960
    fx = c.handle({"type": "device.message", "session": 1, "message": {"type": "listen", "state": "stop"}}, 4000)
    assert sent(fx, type="worker.send")[0]["message"] == {"type": "input", "job": asr["job"], "event": "end"}
    fx = c.handle({"type": "worker.message", "worker": 1,
                   "message": {"type": "output", "job": asr["job"], "event": "final", "text": "what time is it"}}, 5000)
    assert {"type": "stt", "text": "what time is it", "session_id": "s1"} in [e["message"] for e in sent(fx, type="device.send")]
    assistant = job_of(fx, "assistant")
    assert assistant["params"]["text"] == "what time is it" and assistant["params"]["device_id"] == "esp32"
    c.handle({"type": "worker.message", "worker": 2,
              "message": {"type": "output", "job": assistant["job"], "event": "delta", "text": "It is noon now."}}, 6000)
    tts = job_of(c.handle({"type": "worker.message", "worker": 2,
                           "message": {"type": "done", "job": assistant["job"]}}, 7000), "tts")
    assert tts["params"]["text"] == "It is noon now." and tts["params"]["segment"] == 0
    pcm = b"\x00\x01" * 2400
    fx = c.handle({"type": "worker.audio", "worker": 3, "job": tts["job"], "last": True}, 8000, data=pcm)
    kinds = [e["type"] if e["type"] != "device.send" else e["message"]["type"] + ":" + e["message"].get("state", "")
             for e in fx if e["type"].startswith("device.")]
    assert kinds == ["tts:start", "device.audio", "device.audio_end"]
    audio = sent(fx, type="device.audio")[0]
    assert audio["data"] == pcm and audio["turn"] == 1 and audio["sample_rate"] == 24000
    assert audio["message"] == {"type": "tts", "state": "sentence_start", "session_id": "s1", "text": "It is noon now."}
    assert sent(fx, type="device.audio_end")[0]["message"] == {"type": "tts", "state": "stop", "session_id": "s1"}
    c.handle({"type": "device.playback_done", "session": 1, "turn": 1}, 9000)
    log = c.log()
    kinds = [e["kind"] for e in log]
    assert "turn.ended" in kinds and kinds.index("turn.transcript") < kinds.index("turn.ended")
    assert [e["seq"] for e in log] == sorted(e["seq"] for e in log)
    marks = [e["reason"] for e in log if e["kind"] == "turn.mark"]
    assert marks[:2] == ["asr_final", "first_delta"] and "first_audio_sent" in marks
    assert c.log() == []  # drained


def test_timers_are_effects_and_firing_them_is_an_event():
    c = voicecore.Coordinator()
    fx = c.handle({"type": "device.connected", "session": 1}, 0)
    timer = sent(fx, type="timer.set")[0]
    assert timer["at_us"] == 10_000_000  # hello timeout
    fx = c.handle({"type": "timer.fired", "timer": timer["timer"]}, timer["at_us"])
    close = sent(fx, type="device.close")[0]
    assert close["reason"] == "hello-timeout" and close["code"] == 1008  # the core decides the close code


def test_invalid_events_are_rejected_and_logged():
    c = voicecore.Coordinator()
    with pytest.raises(voicecore.RejectedEvent, match="unknown event kind"):
        c.handle({"type": "nope"}, 0)
    with pytest.raises(voicecore.RejectedEvent, match="unknown session"):
        c.handle({"type": "device.audio", "session": 99}, 0, data=b"\x00\x00")
    with pytest.raises(voicecore.RejectedEvent, match="session id must be in 1"):
        c.handle({"type": "device.disconnected"}, 0)
    c.handle({"type": "worker.connected", "worker": 1}, 0)
    with pytest.raises(voicecore.RejectedEvent) as info:
        c.handle({"type": "worker.message", "worker": 1, "message": {"type": "heartbeat"}}, 0)
    assert info.value.effects[0]["message"]["type"] == "error"  # the worker is told
    with pytest.raises(voicecore.RejectedEvent, match="went backwards"):
        c.handle({"type": "worker.disconnected", "worker": 1}, -5)
    rejected = [e for e in c.log() if e["kind"] == "input.rejected"]
    assert len(rejected) == 5 and all(e["reason"] for e in rejected)


def test_config_errors_name_the_key():
    with pytest.raises(voicecore.Error, match="idle_timeout"):
        voicecore.Coordinator({"idle_timeout": 5})
    with pytest.raises(voicecore.Error, match="splitter"):
        voicecore.Coordinator({"splitter": {"language": "klingon"}})


def test_config_event_and_log_iterator():
    c = voicecore.Coordinator()
    c.handle({"type": "config", "config": {"hello_timeout_ms": 2000}}, 0)
    fx = c.handle({"type": "device.connected", "session": 1}, 10)
    assert sent(fx, type="timer.set")[0]["at_us"] == 2_000_010
    kinds = [e["kind"] for e in c.logs()]
    assert kinds == ["config.applied", "session.connected"]
    with pytest.raises(voicecore.RejectedEvent, match="unknown key"):
        c.handle({"type": "config", "config": {"hello_timeout": 1}}, 20)


def test_digest_is_the_determinism_fingerprint():
    """Equal configs and equal events at equal times: equal digests (voicecore replay relies on it);
    any difference in an event or its time: another digest."""
    events = [({"type": "worker.connected", "worker": 1}, 0), ({"type": "device.connected", "session": 1}, 10),
              ({"type": "device.message", "session": 1, "message": {"type": "hello", "version": 1}}, 20),
              ({"type": "text.input", "session": 1, "text": "hi"}, 30), ({"type": "no.such.event"}, 40)]

    def run(changed: int | None = None) -> tuple[int, int]:
        c = voicecore.Coordinator({"heartbeat_ms": 1000})
        fresh = c.digest()
        assert fresh[1] == 0
        for i, (event, t) in enumerate(events):
            struct, keep = event_struct(event)
            c.feed(struct, t + (5 if i == changed else 0))
        return c.digest()

    a, b = run(), run()
    assert a == b and a[1] >= 5
    assert run(changed=3)[0] != a[0]
    fed = voicecore.Coordinator({"heartbeat_ms": 1000})
    for event, t in events[:-1]:
        fed.handle(event, t)
    with pytest.raises(voicecore.RejectedEvent):
        fed.handle(events[-1][0], events[-1][1])
    assert fed.digest() == a  # handle() and feed() take the same path; a rejected event is logged too


def test_random_json_never_crashes_the_library():
    import random

    rng = random.Random(5)
    c = voicecore.Coordinator()
    vocab = ["device.connected", "device.message", "device.audio", "worker.message", "worker.audio", "timer.fired",
             "text.input", "worker.connected", "config", "device.playback_done"]
    values = [None, True, 0, -1, 2**63, 1.5, "", "x", [], {}, {"type": "hello"}, {"type": "register", "kinds": ["asr"]}]
    accepted = rejected = 0
    for i in range(3000):
        event = {"type": rng.choice(vocab)}
        for key in rng.sample(["session", "worker", "job", "turn", "timer", "message", "text", "last", "config"], 3):
            event[key] = rng.choice(values + ["s1", "w1", 1, 2])
        try:
            c.handle(event, i, data=bytes(rng.randrange(0, 8)))
            accepted += 1
        except voicecore.RejectedEvent as exc:
            assert exc.message
            rejected += 1
    assert rejected > 1000 and accepted > 10
    assert sum(1 for e in c.logs() if e["kind"] == "input.rejected") == rejected


def test_coordinate_command_runs_a_script(tmp_path, capsys):
    import json as _json

    from voicecore.cli import main

    script = tmp_path / "events.jsonl"
    lines = [
        {"now_us": 0, "event": {"type": "device.connected", "session": 1}},
        {"event": {"type": "device.message", "session": 1, "message": {"type": "hello"}}},
        {"now_us": 5, "event": {"type": "device.audio", "session": 1}, "data_hex": "0000"},
    ]
    script.write_text("\n".join(_json.dumps(x) for x in lines) + "\n")
    assert main(["coordinate", str(script), "--log"]) == 0
    out = [_json.loads(l) for l in capsys.readouterr().out.splitlines()]
    hello = [o["effect"]["message"] for o in out if "effect" in o and o["effect"]["type"] == "device.send"]
    assert hello[0]["type"] == "hello" and hello[0]["session_id"] == "s1"
    assert [o["log"]["kind"] for o in out if "log" in o][:2] == ["session.connected", "session.hello"]
    script.write_text(_json.dumps({"event": {"type": "device.audio", "session": 99}}) + "\n")
    assert main(["coordinate", str(script)]) == 1
    assert "unknown session" in capsys.readouterr().out


def test_health_from_python_refusal_and_leak():
    c = voicecore.Coordinator({"heartbeat_ms": 1000, "health_grace_ms": 2000})
    for name, kind in [(2, "assistant"), (3, "tts")]:
        register(c, name, kind)
    h = c.health(0)
    assert h["status"] == "ok" and h["kinds"]["tts"]["status"] == "ok" and h["kinds"]["asr"]["status"] == "absent"
    # The TTS worker reports a slot busy that the hub does not know, heartbeat after heartbeat.
    for t in range(1, 4):
        c.handle({"type": "worker.message", "worker": 3, "message": {"type": "heartbeat", "load": {"tts": 4}}}, t * 1_000_000)
    log = c.log()
    assert [e for e in log if e["kind"] == "worker.reconciled" and e["reason"] == "leaked-slots"]
    assert c.health(3_000_000)["kinds"]["tts"]["status"] == "ok"  # full, not yet for the grace period
    h = c.health(5_500_000)
    assert h["status"] == "degraded" and h["kinds"]["tts"]["reason"] == "leaked" and h["reasons"][0].startswith("tts:")
    assert h["counters"]["leaks_marked"] == 1
    c.handle({"type": "worker.message", "worker": 3, "message": {"type": "heartbeat", "load": {"tts": 0}}}, 8_000_000)
    assert c.health(8_000_000)["status"] == "ok"
    c.log()
    c.health(60_000_000)
    assert c.log() == []  # the health query changes nothing, logs nothing


def _hub_session(c, mode="auto"):
    for name, kind in [(1, "asr"), (2, "assistant"), (3, "tts")]:
        register(c, name, kind)
    c.handle({"type": "device.connected", "session": 1, "device_id": "esp32", "protocol_version": 1}, 1000)
    c.handle({"type": "device.message", "session": 1, "message": {"type": "hello", "version": 1, "transport": "websocket"}}, 1000)
    return job_of(c.handle({"type": "device.message", "session": 1,
                            "message": {"type": "listen", "state": "start", "mode": mode}}, 2000), "asr")


def _asr(c, job, now, event, **fields):
    return c.handle({"type": "worker.message", "worker": 1,
                     "message": {"type": "output", "job": job["job"], "event": event, **fields}}, now)


def _input_end(fx, job):
    return {"type": "input", "job": job["job"], "event": "end"} in [e["message"] for e in sent(fx, type="worker.send")]


def test_hub_endpointing_takes_the_asr_workers_pause_turn_and_resume_evidence():
    """The ASR worker's `pause`, `turn` and `resume` outputs are accepted on an ASR job and decide
    the end of the turn: a confident model with a transcript ends it after the debounce, `input end`."""
    c = voicecore.Coordinator({"heartbeat_ms": 60000})
    job = _hub_session(c)
    assert job["params"]["endpointing"] == "hub"
    _asr(c, job, 10_000, "speech_start")
    _asr(c, job, 1_000_000, "pause", silence_ms=64)
    _asr(c, job, 1_050_000, "resume")  # speech again: the pause's evidence is void
    fx = _asr(c, job, 2_000_000, "pause", silence_ms=64)
    assert not _input_end(fx, job)
    assert not _input_end(_asr(c, job, 2_100_000, "turn", probability=0.93), job)  # no transcript yet
    fx = _asr(c, job, 2_200_000, "speculative", text="What time is it?")
    assert _input_end(fx, job)  # 264 ms of silence ≥ the 150 ms debounce
    endpoint = [e for e in c.log() if e["kind"] == "turn.endpoint"]
    assert [e["reason"] for e in endpoint] == ["model"]


def test_hub_endpointing_reads_chinese_in_either_script():
    """A Chinese session: Whisper writes "今天天氣怎麼樣" (traditional, no "？") and the turn model
    doubts it; the question in place reads finished, so the turn ends at hold_ms, not the fallback."""
    c = voicecore.Coordinator({"heartbeat_ms": 60000, "language": "zh"})
    job = _hub_session(c)
    _asr(c, job, 10_000, "speech_start")
    _asr(c, job, 1_000_000, "pause", silence_ms=64)
    _asr(c, job, 1_100_000, "turn", probability=0.05)
    fx = _asr(c, job, 1_200_000, "speculative", text="今天天氣怎麼樣", language="zh")
    assert not _input_end(fx, job)
    timer = [e for e in fx if e["type"] == "timer.set" and e["at_us"] < 5_000_000][-1]
    assert timer["at_us"] == 1_000_000 - 64_000 + 750_000  # hold_ms, not fallback_ms (900)
    assert _input_end(c.handle({"type": "timer.fired", "timer": timer["timer"]}, timer["at_us"]), job)
    assert [e["reason"] for e in c.log() if e["kind"] == "turn.endpoint"] == ["hold"]


def test_hub_endpointing_waits_on_an_open_transcript_and_ends_it_by_timer():
    c = voicecore.Coordinator({"heartbeat_ms": 60000, "turn": {"open_ms": 1600}})
    job = _hub_session(c)
    _asr(c, job, 10_000, "speech_start")
    _asr(c, job, 1_000_000, "pause", silence_ms=64)
    _asr(c, job, 1_100_000, "turn", probability=0.98)
    fx = _asr(c, job, 1_200_000, "speculative", text="Turn on the kitchen light and")
    assert not _input_end(fx, job)
    timer = [e for e in fx if e["type"] == "timer.set" and e["at_us"] < 5_000_000][-1]  # not the ASR job's deadline
    assert timer["at_us"] == 1_000_000 - 64_000 + 1_600_000
    fx = c.handle({"type": "timer.fired", "timer": timer["timer"]}, timer["at_us"])
    assert _input_end(fx, job)
    assert [e["reason"] for e in c.log() if e["kind"] == "turn.endpoint"] == ["open"]


class _Clock:
    """Feeds events in time order and fires the Coordinator's timers when they fall due."""

    def __init__(self, c):
        self.c, self.timers = c, {}

    def _note(self, fx):
        for e in fx:
            if e["type"] == "timer.set":
                self.timers[e["timer"]] = e["at_us"]
            elif e["type"] == "timer.cancel":
                self.timers.pop(e["timer"], None)
        return fx

    def at(self, now, event):
        fx = []
        while self.timers and min(self.timers.values()) <= now:
            timer, due = min(self.timers.items(), key=lambda kv: kv[1])
            del self.timers[timer]
            fx += self._note(self.c.handle({"type": "timer.fired", "timer": timer}, due))
        return fx + self._note(self.c.handle(event, now))


def test_a_long_utterance_reported_on_does_not_time_out():
    """An utterance longer than asr_timeout_ms from a worker that sends no partials (`voicecore up`'s
    default) stays alive while the worker reports pauses on it: the evidence is progress."""
    c = voicecore.Coordinator({"heartbeat_ms": 60000, "asr_timeout_ms": 10000})
    job = _hub_session(c)
    clock = _Clock(c)
    def step(now, event, **fields):
        return clock.at(now, {"type": "worker.message", "worker": 1,
                              "message": {"type": "output", "job": job["job"], "event": event, **fields}})
    step(10_000, "speech_start")
    for t in range(1, 14):  # a 14 s utterance, a short pause every second
        step(t * 1_000_000, "pause", silence_ms=64)
        step(t * 1_000_000 + 100_000, "resume")
    fx = step(14_000_000, "pause", silence_ms=64)
    fx += step(14_300_000, "turn", probability=0.9)
    fx += step(14_400_000, "speculative", text="And that is the whole long story.")
    fx += step(14_900_000, "speech_end")  # past hold_ms (a confident model on a statement): the hub's timer ended it
    assert _input_end(fx, job)
    kinds = [e["kind"] for e in c.log()]
    assert "turn.fallback" not in kinds and "turn.endpoint" in kinds


def _reply_in_flight(c):
    """Realtime mode, turn 1 answered and its reply in flight; returns the listener's ASR job."""
    job = _hub_session(c, "realtime")
    _asr(c, job, 100_000, "speech_start")
    _asr(c, job, 200_000, "speech_end")
    fx = _asr(c, job, 300_000, "final", text="Tell me a story.")
    assert job_of(fx, "assistant")
    listener = job_of(fx, "asr")
    assert listener["job"] != job["job"]
    return listener


def _stopped(fx):
    return any(e["type"] == "device.send" and e["message"].get("type") == "tts" and e["message"].get("state") == "stop" for e in fx)


def test_speech_over_the_reply_without_words_does_not_cut_it():
    """Realtime: a sound over the reply that the ASR heard as no words (an empty final: noise, a
    cough) neither cuts the reply nor starts a turn, like a backchannel; a real transcript does cut it."""
    c = voicecore.Coordinator({"heartbeat_ms": 60000, "turn": {"barge_in_ms": 600}})
    listener = _reply_in_flight(c)
    clock = _Clock(c)
    out = lambda now, event, **f: clock.at(now, {"type": "worker.message", "worker": 1,  # noqa: E731
                                                 "message": {"type": "output", "job": listener["job"], "event": event, **f}})
    fx = out(1_000_000, "speech_start") + out(1_400_000, "pause", silence_ms=64)
    fx += out(2_400_000, "speech_end") + out(2_500_000, "final", text="")
    assert not _stopped(fx)
    kinds = [e["kind"] for e in c.log()]
    assert "turn.backchannel" in kinds and "barge-in" not in [e.get("reason") for e in c.log() if e["kind"] == "turn.cancelled"]
    # The next sound over the same reply, heard as words that are no backchannel: an interruption.
    listener = job_of(fx, "asr")
    fx = out(3_000_000, "speech_start") + out(3_400_000, "pause", silence_ms=64) + out(3_600_000, "speculative", text="Stop that.")
    assert _stopped(fx)

def test_speech_over_the_reply_pauses_its_downlink_and_a_backchannel_resumes_it():
    """Realtime, default `turn` config: speech over the reply pauses the downlink at once
    (`device.pause`, no message to the device); "Uh-huh." resumes it (`device.resume`), nothing cut."""
    c = voicecore.Coordinator({"heartbeat_ms": 60000})
    listener = _reply_in_flight(c)
    out = lambda now, event, **f: c.handle({"type": "worker.message", "worker": 1,  # noqa: E731
                                            "message": {"type": "output", "job": listener["job"], "event": event, **f}}, now)
    fx = out(1_000_000, "speech_start")
    assert [e["type"] for e in fx if e["type"].startswith("device.")] == ["device.pause"]
    fx = out(1_400_000, "pause", silence_ms=64) + out(1_700_000, "speculative", text="Uh-huh.", language="en")
    assert "device.resume" in [e["type"] for e in fx] and not _stopped(fx)
    kinds = [e["kind"] for e in c.log()]
    assert kinds.index("turn.paused") < kinds.index("turn.backchannel") < kinds.index("turn.resumed")


def test_tally_counts_the_log_without_parsing_it() -> None:
    """Coordinator.tally reads the counts the core keeps (vc_coordinator_tally): they match the log."""
    c = voicecore.Coordinator()
    c.handle({"type": "worker.connected", "worker": 1}, now_us=0)
    c.handle({"type": "worker.connected", "worker": 2}, now_us=1)
    entries = c.log()
    events = c.tally("events")
    assert events["worker.connected"] == 2
    assert sum(events.values()) == len(entries)
    assert c.tally("outcomes") == {} and c.tally("stages") == {}
    with pytest.raises(ValueError):
        c.tally("nope")


def test_typed_events_and_effects_cross_the_abi_with_the_callers_ids() -> None:
    """vc_event / vc_effect through ctypes: the structs have the C layout, a peer's text frame goes
    in unchanged and is parsed once by the core, large host ids are kept as they are, a malformed
    frame is VC_ERR_CORRUPT and answered to its device by the core, close codes come from the core."""
    import ctypes

    from voicecore.coordinator import CEvent

    assert ctypes.sizeof(CEvent) == 160
    c = voicecore.Coordinator({"heartbeat_ms": 60000})
    session, worker = 2**40 + 7, 2**33
    register(c, worker, "asr")
    connected = CEvent(kind=EventKind.DEVICE_CONNECTED, session=session, protocol_version=2, flags=1)
    fx = c.handle_event(connected, 10)
    assert [e["type"] for e in fx] == ["timer.set"]
    hello = b'{"type":"hello","version":2,"transport":"websocket"}'  # the device's frame, as sent
    struct, keep = event_struct({"type": "device.message", "session": session, "message": hello})
    fx = c.handle_event(struct, 20)
    answer = sent(fx, type="device.send")[0]
    assert answer["session"] == session and answer["flags"] == 1 and answer["message"]["session_id"] == f"s{session}"
    assert any(e["kind"] == "session.hello" and e["session"] == f"s{session}" for e in c.log())
    with pytest.raises(voicecore.RejectedEvent) as bad:
        c.handle({"type": "device.message", "session": session, "message": '{"type":"listen",'}, 30)
    assert bad.value.code == -7 and "malformed JSON" in bad.value.message
    assert bad.value.effects == [{"type": "device.send", "session": session,
                                  "message": {"type": "error", "message": bad.value.message}}]
    with pytest.raises(voicecore.RejectedEvent) as dup:
        c.handle({"type": "device.message", "session": session, "message": '{"type":"abort","type":"abort"}'}, 30)
    assert dup.value.code == -7 and "duplicate key" in dup.value.message
    fx = c.handle({"type": "device.message", "session": session, "message": {"type": "listen", "state": "start", "mode": "manual"}}, 40)
    job = [e for e in fx if e["type"] == "worker.send" and e.get("job_kind") == "asr"][0]
    assert job["worker"] == worker and job["message"]["session"] == f"s{session}"
    fx = c.handle({"type": "device.audio", "session": session}, 50, data=b"\x02\x00" * 320)
    assert fx == [{"type": "worker.audio", "worker": worker, "job": job["job"], "data": b"\x02\x00" * 320}]
    assert c.counters(60)["degraded"] == {"asr": False, "tts": False, "assistant": False, "llm": False}
    assert c.counters(60)["placement_failures"]["asr"] == 0
    c.handle({"type": "worker.disconnected", "worker": worker}, 80)
    assert c.tally("events")["worker.gone"] == 1


def test_admin_requests_cross_the_abi_typed_and_are_answered_by_the_core():
    # VC_EVENT_ADMIN_REQUEST carries the host's request id, the method flag, the path and the body
    # as it arrived; the core parses it and answers with one VC_EFFECT_HTTP_RESPOND.
    c = voicecore.Coordinator({"heartbeat_ms": 60000})
    effects = c.handle({"type": "admin.request", "request": 2**40, "method": "GET", "path": "/api/v1/devices"}, 1000)
    assert effects == [{"type": "http.respond", "request": 2**40, "status": 200, "body": {"devices": []}}]
    effects = c.handle({"type": "admin.request", "request": 5, "method": "POST", "path": "/api/v1/devices"}, 2000)
    assert [(e["request"], e["status"]) for e in effects] == [(5, 405)]
    # A body that is not JSON is the core's to refuse: rejected, and answered 400 with the reason.
    with pytest.raises(voicecore.RejectedEvent) as rejected:
        c.handle({"type": "admin.request", "request": 6, "method": "POST", "path": "/api/v1/devices/x/say",
                  "body": b'{"text": "unterminated'}, 3000)
    [answer] = rejected.value.effects
    assert answer["type"] == "http.respond" and answer["request"] == 6 and answer["status"] == 400
    assert answer["body"]["error"].startswith("malformed JSON body:")


def test_device_language_from_python():
    """device.language (OTA) through the binding: the device's next session's jobs carry it; a
    malformed tag is rejected and changes nothing."""
    c = voicecore.Coordinator({"heartbeat_ms": 60000, "language": "en"})
    register(c, 1, "asr")
    assert c.handle({"type": "device.language", "device_id": "esp32", "language": "zh-CN"}, 100) == []
    with pytest.raises(voicecore.RejectedEvent):
        c.handle({"type": "device.language", "device_id": "esp32", "language": "zh_CN; q=1"}, 200)
    entries = [e for e in c.log() if e["kind"] in ("device.language", "input.rejected")]
    assert entries[0]["kind"] == "device.language" and entries[0]["text"] == "esp32" and entries[0]["to"] == "zh-CN"
    assert entries[1]["kind"] == "input.rejected" and "not a language tag" in entries[1]["reason"]
    for session, device in [(1, "esp32"), (2, "other")]:
        now = session * 1000
        c.handle({"type": "device.connected", "session": session, "device_id": device}, now)
        c.handle({"type": "device.message", "session": session, "message": {"type": "hello", "version": 1}}, now)
        asr = job_of(c.handle({"type": "device.message", "session": session,
                               "message": {"type": "listen", "state": "start", "mode": "manual"}}, now), "asr")
        assert asr["params"]["language"] == ("zh-CN" if device == "esp32" else "en")
