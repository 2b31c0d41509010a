"""The memory store: per (agent, device) conversation messages, a summary of the older ones and
long-term facts, in SQLite (WAL mode: readers never block the one writer).

This class is synchronous and not thread-safe on its own; the memory service runs every write on
one writer thread and reads on a reader thread, each with its own connection (``MemoryStore`` per
thread). Tokens are estimated (4 characters a token, plus a few per message): close for English,
conservative for CJK.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROLES = ("user", "assistant")
MAX_KEY_CHARS = 128          # agent and device ids
MAX_CONTENT_CHARS = 32_000   # one message
MAX_MESSAGES_PER_WRITE = 64
MAX_FACT_CHARS = 500
MAX_SUMMARY_CHARS = 8_000
KEEP_MESSAGES = 400          # per (agent, device): the oldest beyond this are deleted, summarised or not
KEEP_FACTS = 50              # per (agent, device): the oldest beyond this are deleted
MAX_BUDGET_TOKENS = 1_000_000


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4 + 4


class BadRequest(ValueError):
    """Input the store refuses (the service answers 400 with this message)."""


class Conflict(Exception):
    """A summary written against a summary mark that has moved meanwhile (the service answers 409)."""


def check_key(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name} must be a non-empty string")
    if len(value) > MAX_KEY_CHARS:
        raise BadRequest(f"{name} is longer than {MAX_KEY_CHARS} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value) or "/" in value:
        raise BadRequest(f"{name} must not contain control characters or '/'")
    return value


@dataclass
class Snapshot:
    """What one turn needs: the summary, the facts and the newest messages that fit the budget;
    ``unsummarised_tokens`` counts every message after the summary mark (in the window or not)."""

    summary: str
    summary_upto: int
    facts: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    unsummarised_tokens: int
    unsummarised_messages: int

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary, "summary_upto": self.summary_upto, "facts": self.facts, "messages": self.messages,
                "unsummarised_tokens": self.unsummarised_tokens, "unsummarised_messages": self.unsummarised_messages}


SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY, agent TEXT NOT NULL, device TEXT NOT NULL, at REAL NOT NULL,
    role TEXT NOT NULL, content TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS messages_by_key ON messages (agent, device, id);
CREATE TABLE IF NOT EXISTS facts (
    id INTEGER PRIMARY KEY, agent TEXT NOT NULL, device TEXT NOT NULL, at REAL NOT NULL, text TEXT NOT NULL,
    UNIQUE (agent, device, text));
CREATE TABLE IF NOT EXISTS summaries (
    agent TEXT NOT NULL, device TEXT NOT NULL, at REAL NOT NULL, text TEXT NOT NULL, upto INTEGER NOT NULL,
    PRIMARY KEY (agent, device));
CREATE TABLE IF NOT EXISTS ops (
    agent TEXT NOT NULL, device TEXT NOT NULL, op TEXT NOT NULL, at REAL NOT NULL, result TEXT NOT NULL,
    PRIMARY KEY (agent, device, op));
CREATE INDEX IF NOT EXISTS ops_by_age ON ops (at);
"""


class MemoryStore:
    def __init__(self, path: str | Path = ":memory:", keep_messages: int = KEEP_MESSAGES, keep_facts: int = KEEP_FACTS) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self.keep_messages = keep_messages
        self.keep_facts = keep_facts
        self.db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # Transactions (the service's writer groups several writes in one) ---------------------------

    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def savepoint(self, name: str = "op") -> None:
        self.db.execute(f"SAVEPOINT {name}")

    def release(self, name: str = "op") -> None:
        self.db.execute(f"RELEASE {name}")

    def rollback_to(self, name: str = "op") -> None:
        self.db.execute(f"ROLLBACK TO {name}")
        self.db.execute(f"RELEASE {name}")

    # Reads ---------------------------------------------------------------------------------------

    def snapshot(self, agent: str, device: str, budget_tokens: int) -> Snapshot:
        if not isinstance(budget_tokens, int) or isinstance(budget_tokens, bool) or not 0 <= budget_tokens <= MAX_BUDGET_TOKENS:
            raise BadRequest(f"budget_tokens must be an integer in 0..{MAX_BUDGET_TOKENS}")
        self.db.execute("BEGIN")  # one consistent view of summary and messages
        try:
            summary, upto = self._summary(agent, device)
            rows = self.db.execute("SELECT id, role, content, at FROM messages WHERE agent = ? AND device = ? AND id > ? ORDER BY id DESC",
                                   (agent, device, upto)).fetchall()
            facts = [{"id": i, "text": t, "at": at} for i, t, at in
                     self.db.execute("SELECT id, text, at FROM facts WHERE agent = ? AND device = ? ORDER BY id", (agent, device))]
        finally:
            self.db.execute("COMMIT")
        picked: list[dict[str, Any]] = []
        used = 0
        total = 0
        full = False
        for ident, role, content, at in rows:
            cost = estimate_tokens(content)
            total += cost
            if not full and used + cost <= budget_tokens:
                used += cost
                picked.append({"id": ident, "role": role, "content": content, "at": at})
            else:
                full = True
        picked.reverse()
        while picked and picked[0]["role"] != "user":  # never open with a dangling assistant turn
            picked.pop(0)
        return Snapshot(summary, upto, facts, picked, total, len(rows))

    def messages(self, agent: str, device: str, after: int = 0, upto: int | None = None, limit: int = KEEP_MESSAGES) -> list[dict[str, Any]]:
        sql = "SELECT id, role, content, at FROM messages WHERE agent = ? AND device = ? AND id > ?"
        args: list[Any] = [agent, device, after]
        if upto is not None:
            sql += " AND id <= ?"
            args.append(upto)
        sql += " ORDER BY id LIMIT ?"
        args.append(limit)
        return [{"id": i, "role": r, "content": c, "at": at} for i, r, c, at in self.db.execute(sql, args)]

    def _summary(self, agent: str, device: str) -> tuple[str, int]:
        row = self.db.execute("SELECT text, upto FROM summaries WHERE agent = ? AND device = ?", (agent, device)).fetchone()
        return (row[0], int(row[1])) if row else ("", 0)

    # Writes (call inside begin/commit) -------------------------------------------------------------

    def _replayed(self, agent: str, device: str, op: str | None) -> Any:
        """The result of an operation already applied (a client's retry after a lost answer)."""
        if not op:
            return None
        row = self.db.execute("SELECT result FROM ops WHERE agent = ? AND device = ? AND op = ?", (agent, device, op)).fetchone()
        return None if row is None else json.loads(row[0])

    def _record(self, agent: str, device: str, op: str | None, result: Any) -> Any:
        if op:
            self.db.execute("INSERT INTO ops (agent, device, op, at, result) VALUES (?, ?, ?, ?, ?)",
                            (agent, device, op, time.time(), json.dumps(result)))
            # Retries come within minutes; a day of operation ids is plenty.
            self.db.execute("DELETE FROM ops WHERE at < ?", (time.time() - 86400,))
        return result

    def append(self, agent: str, device: str, messages: Any, op: str | None = None) -> dict[str, Any]:
        if not isinstance(messages, list) or not messages:
            raise BadRequest("messages must be a non-empty list")
        if len(messages) > MAX_MESSAGES_PER_WRITE:
            raise BadRequest(f"at most {MAX_MESSAGES_PER_WRITE} messages per request")
        for i, m in enumerate(messages):
            if not isinstance(m, dict):
                raise BadRequest(f"messages[{i}] must be an object")
            if m.get("role") not in ROLES:
                raise BadRequest(f"messages[{i}].role must be one of {list(ROLES)}")
            if not isinstance(m.get("content"), str):
                raise BadRequest(f"messages[{i}].content must be a string")
            if len(m["content"]) > MAX_CONTENT_CHARS:
                raise BadRequest(f"messages[{i}].content is longer than {MAX_CONTENT_CHARS} characters")
        done = self._replayed(agent, device, op)
        if done is not None:
            return done
        now = time.time()
        ids = []
        for m in messages:
            cursor = self.db.execute("INSERT INTO messages (agent, device, at, role, content) VALUES (?, ?, ?, ?, ?)",
                                     (agent, device, now, m["role"], m["content"]))
            ids.append(int(cursor.lastrowid or 0))
        self.db.execute(
            "DELETE FROM messages WHERE agent = ? AND device = ? AND id <= "
            "(SELECT id FROM messages WHERE agent = ? AND device = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (agent, device, agent, device, self.keep_messages))
        _, upto = self._summary(agent, device)
        tokens = sum(estimate_tokens(c) for (c,) in self.db.execute(
            "SELECT content FROM messages WHERE agent = ? AND device = ? AND id > ?", (agent, device, upto)))
        return self._record(agent, device, op, {"ids": ids, "unsummarised_tokens": tokens})

    def add_fact(self, agent: str, device: str, text: Any, op: str | None = None) -> dict[str, Any]:
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("text must be a non-empty string")
        text = " ".join(text.split())
        if len(text) > MAX_FACT_CHARS:
            raise BadRequest(f"a fact is at most {MAX_FACT_CHARS} characters")
        done = self._replayed(agent, device, op)
        if done is not None:
            return done
        row = self.db.execute("SELECT id FROM facts WHERE agent = ? AND device = ? AND text = ?", (agent, device, text)).fetchone()
        if row is not None:
            return self._record(agent, device, op, {"id": int(row[0]), "new": False})
        cursor = self.db.execute("INSERT INTO facts (agent, device, at, text) VALUES (?, ?, ?, ?)", (agent, device, time.time(), text))
        self.db.execute(
            "DELETE FROM facts WHERE agent = ? AND device = ? AND id <= "
            "(SELECT id FROM facts WHERE agent = ? AND device = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (agent, device, agent, device, self.keep_facts))
        return self._record(agent, device, op, {"id": int(cursor.lastrowid or 0), "new": True})

    def delete_fact(self, agent: str, device: str, fact_id: int) -> bool:
        return self.db.execute("DELETE FROM facts WHERE agent = ? AND device = ? AND id = ?", (agent, device, fact_id)).rowcount > 0

    def put_summary(self, agent: str, device: str, text: Any, upto: Any, expected_upto: Any = None) -> dict[str, Any]:
        """The summary of every message up to id ``upto`` (those messages are then deleted).
        ``expected_upto``: the summary mark the summariser started from; if another summariser
        moved it meanwhile, ``Conflict``."""
        if not isinstance(text, str):
            raise BadRequest("text must be a string")
        if len(text) > MAX_SUMMARY_CHARS:
            raise BadRequest(f"a summary is at most {MAX_SUMMARY_CHARS} characters")
        if not isinstance(upto, int) or isinstance(upto, bool) or upto < 0:
            raise BadRequest("upto must be a non-negative integer (the last message id the summary covers)")
        if expected_upto is not None and (not isinstance(expected_upto, int) or isinstance(expected_upto, bool)):
            raise BadRequest("expected_upto must be an integer")
        _, current = self._summary(agent, device)
        if expected_upto is not None and expected_upto != current:
            raise Conflict(f"the summary mark is {current}, not {expected_upto}: another summary was written meanwhile")
        if upto < current:
            raise Conflict(f"the summary already covers messages up to {current}")
        self.db.execute("INSERT INTO summaries (agent, device, at, text, upto) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (agent, device) DO UPDATE SET at = excluded.at, text = excluded.text, upto = excluded.upto",
                        (agent, device, time.time(), text, upto))
        deleted = self.db.execute("DELETE FROM messages WHERE agent = ? AND device = ? AND id <= ?", (agent, device, upto)).rowcount
        return {"upto": upto, "deleted_messages": deleted}

    def forget(self, agent: str, device: str) -> dict[str, Any]:
        counts = {}
        for table in ("messages", "facts", "summaries", "ops"):
            counts[table] = self.db.execute(f"DELETE FROM {table} WHERE agent = ? AND device = ?", (agent, device)).rowcount
        return {"deleted": counts}
