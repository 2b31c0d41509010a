"""A device-side client: speaks the XiaoZhi protocol with real Opus, as a device would (``voicecore talk``,
the end-to-end tests and benchmarks)."""

from .device import Device, Microphone, TurnResult, converse, ota_check, speech_end_seconds
from .opus import OpusDecoder, OpusEncoder
from .speaker import Speaker

__all__ = ["Device", "Microphone", "OpusDecoder", "OpusEncoder", "Speaker", "TurnResult", "converse", "ota_check", "speech_end_seconds"]
