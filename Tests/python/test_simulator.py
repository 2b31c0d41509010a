"""voicecore.simulate and ``voicecore sim`` through the release library: determinism across
processes, every injected bug caught within 200 seeds, the CI sweep, the CLI flags."""

import struct
import subprocess
import sys
import time

import pytest

import voicecore

CLI = [sys.executable, "-m", "voicecore", "sim"]
# The invariants that may catch each bug first: a segment's audio sent twice is a duplicate
# delivery, or, when the replay lands after later chunks of the segment, a gap in its order.
BUG_INVARIANT = {
    "audio-after-barge-in": {"no-audio-after-barge-in"},
    "tts-segment-twice": {"no-duplicate-delivery", "segment-order"},
    "leaked-slot": {"worker-slots"},
    "stuck-speaking": {"no-stuck-turn"},
    "lost-reconnect": {"liveness-after-heal"},
    "heartbeat-without-load": {"no-slot-leaked"},
}


def test_same_seed_same_hash_across_processes():
    args = ["--seed", "11", "--devices", "12", "--duration", "30m", "--faults", "harsh", "--json"]
    outs = [subprocess.run(CLI + args, capture_output=True, text=True, check=False) for _ in range(2)]
    hashes = [next(l for l in o.stdout.splitlines() if '"hash"' in l) for o in outs]
    assert hashes[0] == hashes[1]
    other = voicecore.simulate(seed=12, devices=12, duration="30m", faults="harsh")
    assert other.hash not in hashes[0]
    again = voicecore.simulate(seed=11, devices=12, duration="30m", faults="harsh")
    assert again.hash in hashes[0]


@pytest.mark.parametrize("bug", sorted(BUG_INVARIANT))
def test_injected_bug_caught_within_200_seeds(bug):
    for seed in range(1, 201):
        r = voicecore.simulate(seed=seed, devices=20, duration="30m", faults="harsh", inject_bug=bug)
        if not r.passed:
            assert r.violation["invariant"] in BUG_INVARIANT[bug], r.violation
            # Caught during the run, after a heal (not by an end-of-run check; this is no liveness run).
            assert r.violation["time_us"] < 30 * 60 * 1e6
            assert f"--seed {seed} " in r.violation["command"] and f"--inject-bug {bug}" in r.violation["command"]
            # The one-line repro reproduces it: same invariant, same time.
            again = voicecore.simulate(seed=seed, devices=20, duration="30m", faults="harsh", inject_bug=bug)
            assert again.violation["time_us"] == r.violation["time_us"]
            return
    pytest.fail(f"injected bug {bug} not caught within 200 seeds")


def test_ci_sweep_200_seeds_one_hour():
    """200 seeds × 1 simulated hour, 20 devices, harsh faults (the soak is `make sim-soak`)."""
    start = time.perf_counter()
    for seed in range(1, 201):
        r = voicecore.simulate(seed=seed, devices=20, duration="1h", faults="harsh")
        assert r.passed, (seed, r.violation)
        assert r["turns"]["completed"] > 0
    print(f"200 seeds x 1 h in {time.perf_counter() - start:.1f} s")


def test_liveness_mode_heals():
    for seed in range(1, 21):
        r = voicecore.simulate(seed=seed, devices=20, duration="2h", faults="harsh", liveness=True)
        assert r.passed, (seed, r.violation)


def test_fault_free_latency_budget_and_counts():
    r = voicecore.simulate(seed=2, devices=30, duration="3h", faults="none")
    assert r.passed, r.violation
    assert sum(r["faults_injected"].values()) == 0
    assert r["ttfa_ms"]["quiet_count"] > 100
    assert 0 < r["ttfa_ms"]["quiet_p50"] <= r["ttfa_ms"]["quiet_p99"] <= r["ttfa_ms"]["budget"]


def test_cli_summary_trace_until_plot(tmp_path):
    png = tmp_path / "report.png"
    out = subprocess.run(CLI + ["--seed", "4", "--devices", "10", "--duration", "1h", "--faults", "moderate",
                                "--trace", "dev-3", "--until", "0d00:20:00", "--plot", str(png)],
                         capture_output=True, text=True, check=True).stdout
    assert "simulated 0d00:20:00.000" in out and "speedup" in out and "PASS" in out
    assert "time to first audio (virtual): p50" in out and "faults injected" in out
    trace = [l for l in out.splitlines() if "dev-3" in l and l.startswith("0d")]
    assert trace and all(l < "0d00:20:00.001" for l in trace)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1200 and height > 800
    assert b"Software\x00Matplotlib" in data  # drawn by matplotlib (its tEXt chunk)


def test_timeline_samples_the_fleet_and_the_plot_draws_it():
    r = voicecore.simulate(seed=5, devices=20, duration="6h", faults="harsh")
    tl = r["timeline"]
    assert tl["interval_us"] == 90_000_000 and len(tl["samples"]) == 240
    samples = tl["samples"]
    assert [s["t_us"] for s in samples] == [tl["interval_us"] * (i + 1) for i in range(240)]
    # The per-interval counts add up to the run's totals.
    for k, name in enumerate(tl["fault_kinds"]):
        assert sum(s["faults"][k] for s in samples) == r["faults_injected"][name]
    for k, name in enumerate(tl["turn_outcomes"]):
        assert sum(s["turns"][k] for s in samples) == r["turns"][name]
    # Every non-spare worker is always counted in one state; some were seen down or ejected.
    fleet = {"asr": 3, "assistant": 2, "tts": 4, "gpu": 2}
    for s in samples:
        for g, name in enumerate(tl["worker_groups"]):
            if name in fleet:
                assert sum(s["workers"][g]) == fleet[name]
    assert any(s["workers"][g][3] for s in samples for g in range(4))
    assert max(s["sessions"] for s in samples) > 0
    from voicecore.commands.sim_plot import render

    a, b = render(r), render({**r.to_dict(), "timeline": {**tl, "samples": samples[:120]}})
    assert a[:8] == b"\x89PNG\r\n\x1a\n" and a != b


def test_cli_sweep_stops_at_first_failure_with_repro():
    p = subprocess.run(CLI + ["--seeds", "1..50", "--devices", "20", "--duration", "30m", "--faults", "harsh",
                              "--inject-bug", "stuck-speaking"], capture_output=True, text=True, check=False)
    assert p.returncode == 1
    assert "FAIL: no-stuck-turn" in p.stdout and "reproduce with:" in p.stdout
    repro = p.stdout.split("reproduce with:")[1].strip().splitlines()[0].split()
    assert repro[:2] == ["voicecore", "sim"] and "--inject-bug" in repro
    again = subprocess.run([sys.executable, "-m"] + repro, capture_output=True, text=True, check=False)
    assert again.returncode == 1 and "FAIL: no-stuck-turn" in again.stdout


def test_cli_languages_chinese_devices_and_english_only_asr_workers():
    """--chinese / --english-only-asr: a Chinese device's utterances never reach an English-only
    worker while one that hears Chinese is registered; with the workers' languages undeclared
    (injected bug) they do, and the repro line says how to see it again."""
    args = ["--seed", "4", "--devices", "20", "--duration", "30m", "--chinese", "0.4", "--english-only-asr", "2"]
    ok = subprocess.run(CLI + args + ["--faults", "harsh"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "PASS" in ok.stdout, ok.stdout[-2000:]
    bad = subprocess.run(CLI + args + ["--faults", "none", "--inject-bug", "undeclared-languages"], capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "FAIL: asr-language-placement" in bad.stdout and "hears en only" in bad.stdout, bad.stdout[-2000:]
    repro = bad.stdout.split("reproduce with:")[1].strip().splitlines()[0].split()
    assert "--chinese" in repro and "--english-only-asr" in repro
    again = subprocess.run([sys.executable, "-m"] + repro, capture_output=True, text=True, check=False)
    assert again.returncode == 1 and "FAIL: asr-language-placement" in again.stdout


def test_cli_backchannels_decoded_again_are_not_cut():
    """--backchannels: a backchannel said over a reply is never cut on greedy words its worker
    decodes again; a worker that hides the second decoding (injected bug) gets it cut."""
    args = ["--seed", "1", "--devices", "200", "--duration", "15m", "--faults", "none", "--backchannels", "0.5"]
    ok = subprocess.run(CLI + args, capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "PASS" in ok.stdout, ok.stdout[-2000:]
    bad = subprocess.run(CLI + args + ["--inject-bug", "undeclared-refining"], capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "FAIL: backchannel-not-cut" in bad.stdout, bad.stdout[-2000:]


def test_bad_options_raise():
    with pytest.raises(voicecore.Error, match="faults"):
        voicecore.simulate(faults="extreme")
    with pytest.raises(voicecore.Error, match="duration"):
        voicecore.simulate(duration="soon")
