"""Sub-commands of the ``voicecore`` CLI; importing this package registers them all."""

from . import worker  # noqa: F401,E402  (issue 7: voicecore worker asr|tts|assistant)
