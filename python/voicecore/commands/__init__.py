"""Sub-commands of the ``voicecore`` CLI; importing this package registers them all."""
