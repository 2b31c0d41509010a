"""Conversation sessions: per device, persisted in SQLite so they survive reconnects and restarts.

What goes to the LLM is bounded by a token budget: the newest turns that fit, oldest dropped first.
Tokens are estimated (4 characters a token, plus a few per message), which is close for English
and conservative for CJK; set the budget with that in mind.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .tools import ToolRegistry


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4 + 4


class SessionStore:
    def __init__(self, path: str | Path = ":memory:", keep_turns: int = 200) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self.keep_turns = keep_turns
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, at REAL NOT NULL, "
            "role TEXT NOT NULL, content TEXT NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS messages_by_device ON messages (device_id, id)")
        self._db.commit()

    def append(self, device_id: str, role: str, content: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO messages (device_id, at, role, content) VALUES (?, ?, ?, ?)", (device_id, time.time(), role, content))
            self._db.execute(
                "DELETE FROM messages WHERE device_id = ? AND id NOT IN (SELECT id FROM messages WHERE device_id = ? ORDER BY id DESC LIMIT ?)",
                (device_id, device_id, self.keep_turns * 2),
            )
            self._db.commit()

    def recent(self, device_id: str, budget_tokens: int) -> list[dict[str, str]]:
        with self._lock:
            rows = self._db.execute("SELECT role, content FROM messages WHERE device_id = ? ORDER BY id DESC", (device_id,)).fetchall()
        picked: list[dict[str, str]] = []
        used = 0
        for role, content in rows:
            cost = estimate_tokens(content)
            if used + cost > budget_tokens:
                break
            used += cost
            picked.append({"role": role, "content": content})
        picked.reverse()
        while picked and picked[0]["role"] != "user":  # never open with a dangling assistant turn
            picked.pop(0)
        return picked

    def forget(self, device_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM messages WHERE device_id = ?", (device_id,))
            self._db.commit()

    def close(self) -> None:
        self._db.close()


@dataclass
class Session:
    """What ``on_utterance`` gets: who is talking, in which language, what was said before, and
    the device's MCP tools."""

    device_id: str
    id: str
    language: str
    store: SessionStore
    budget_tokens: int = 2000
    tools: ToolRegistry = field(default_factory=ToolRegistry)
    agent: str = ""  # the agent the hub bound the device to (docs/agents.md); "" = none
    data: dict[str, Any] = field(default_factory=dict)  # scratch space for the script, per connection
    instruction: bool = False  # this job phrases what the device says first (say/remind with instruction=)

    @property
    def history(self) -> list[dict[str, str]]:
        """Earlier turns as OpenAI chat messages, newest that fit ``budget_tokens``."""
        return self.store.recent(self.device_id, self.budget_tokens)

    def remember(self, user: str, assistant: str) -> None:
        self.store.append(self.device_id, "user", user)
        if assistant:
            self.store.append(self.device_id, "assistant", assistant)

    def forget(self) -> None:
        self.store.forget(self.device_id)
