"""Sub-commands of the ``voicecore`` CLI; importing this package registers them all."""

# Sentence splitter
from . import demo, split  # noqa: E402,F401
from . import worker  # noqa: F401,E402  (issue 7: voicecore worker asr|tts|assistant)

# Retriever (issue 5)
from . import index, search  # noqa: E402,F401

# Coordinator
from . import coordinate  # noqa: E402,F401

# Simulator
from . import sim  # noqa: E402,F401
from . import talk, up  # noqa: F401,E402  (issue 7: voicecore up, voicecore talk)
from . import replay  # noqa: F401,E402  (voicecore replay: voicecored's event journal)
from . import memory  # noqa: F401,E402  (voicecore memory: the memory service)
