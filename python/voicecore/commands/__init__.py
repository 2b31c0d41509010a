"""Sub-commands of the ``voicecore`` CLI; importing this package registers them all."""

# Retriever (issue 5)
from . import index, search  # noqa: E402,F401
