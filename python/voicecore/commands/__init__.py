"""Sub-commands of the ``voicecore`` CLI; importing this package registers them all."""

# Sentence splitter
from . import demo, split  # noqa: E402,F401

# Coordinator
from . import coordinate  # noqa: E402,F401

# Simulator
from . import sim  # noqa: E402,F401
