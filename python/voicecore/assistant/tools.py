"""Tools the LLM may call: Python functions (``@app.tool``) and the device's MCP tools, in one
registry. A Python tool's JSON schema comes from its signature and docstring; arguments are
validated against the schema before the call; every call has a timeout; a failure becomes an
``{"error": ...}`` result for the LLM instead of breaking the turn."""

from __future__ import annotations

import asyncio
import inspect
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Literal, Union, get_args, get_origin

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array"}


def _schema_for(annotation: Any) -> dict[str, Any]:
    if annotation is inspect.Parameter.empty or annotation is Any:
        return {}
    origin = get_origin(annotation)
    if origin is Literal:
        values = list(get_args(annotation))
        return {"type": _JSON_TYPES.get(type(values[0]), "string"), "enum": values}
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return _schema_for(options[0]) if len(options) == 1 else {"anyOf": [_schema_for(a) for a in options]}
    if origin in (list, tuple, set):
        args = get_args(annotation)
        return {"type": "array", "items": _schema_for(args[0]) if args else {}}
    if origin is dict:
        return {"type": "object"}
    if annotation in _JSON_TYPES:
        return {"type": _JSON_TYPES[annotation]}
    raise TypeError(f"tool parameter type {annotation!r} has no JSON schema; use str, int, float, bool, list, dict, Literal or Optional")


def _docstring_parts(doc: str) -> tuple[str, dict[str, str]]:
    """The summary and the per-parameter descriptions (Google ``Args:`` or reST ``:param x:``)."""
    doc = inspect.cleandoc(doc or "")
    params: dict[str, str] = {}
    for name, text in re.findall(r"^:param\s+(\w+):\s*(.+)$", doc, re.MULTILINE):
        params[name] = text.strip()
    section = re.search(r"^(?:Args|Arguments|Parameters):\s*$(.*?)(?:^\S|\Z)", doc, re.MULTILINE | re.DOTALL)
    if section:
        for name, text in re.findall(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.+)$", section.group(1), re.MULTILINE):
            params[name] = text.strip()
    summary = re.split(r"\n\s*\n|^(?:Args|Arguments|Parameters):|^:param", doc, maxsplit=1, flags=re.MULTILINE)[0]
    return " ".join(summary.split()), params


def schema_from_function(fn: Callable[..., Any]) -> tuple[str, dict[str, Any]]:
    """(description, JSON schema of the parameters) of a function."""
    summary, described = _docstring_parts(fn.__doc__ or "")
    hints = typing.get_type_hints(fn)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"tool {fn.__name__}: *args/**kwargs cannot be described to the LLM")
        prop = _schema_for(hints.get(name, p.annotation))
        if name in described:
            prop["description"] = described[name]
        if p.default is p.empty:
            required.append(name)
        elif p.default is not None:
            prop["default"] = p.default
        properties[name] = prop
    return summary, {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def validate(value: Any, schema: dict[str, Any], path: str = "arguments") -> None:
    """Checks the JSON-schema subset tools use; raises ``ValueError`` naming the bad field."""
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                return validate(value, option, path)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0])
    kind = schema.get("type")
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "null": lambda v: v is None,
    }
    if isinstance(kind, str) and kind in checks and not checks[kind](value):
        raise ValueError(f"{path} must be {kind}, got {type(value).__name__} {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        raise ValueError(f"{path} must be one of {schema['enum']}, got {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise ValueError(f"{path} must be ≥ {schema['minimum']}, got {value}")
        if "maximum" in schema and value > schema["maximum"]:
            raise ValueError(f"{path} must be ≤ {schema['maximum']}, got {value}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                raise ValueError(f"{path}.{name} is required")
        for name, v in value.items():
            if name in props:
                validate(v, props[name], f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                raise ValueError(f"{path}.{name} is not a parameter (expected {sorted(props)})")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            validate(v, schema["items"], f"{path}[{i}]")


@dataclass
class Tool:
    name: str  # as the LLM sees it: [a-zA-Z0-9_-]{1,64}
    description: str
    parameters: dict[str, Any]
    run: Callable[[dict[str, Any]], Awaitable[Any]]
    timeout: float = 10.0
    source: str = "python"  # or "device"


def llm_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:64]


def python_tool(fn: Callable[..., Any], name: str | None = None, timeout: float = 10.0) -> Tool:
    description, parameters = schema_from_function(fn)

    async def run(arguments: dict[str, Any]) -> Any:
        if inspect.iscoroutinefunction(fn):
            return await fn(**arguments)
        return await asyncio.to_thread(fn, **arguments)

    return Tool(llm_name(name or fn.__name__), description or fn.__name__, parameters, run, timeout)


@dataclass
class ToolRegistry:
    tools: dict[str, Tool] = field(default_factory=dict)

    def add(self, tool: Tool) -> None:
        self.tools[tool.name] = tool

    def merged(self, other: "ToolRegistry | None") -> "ToolRegistry":
        return ToolRegistry({**self.tools, **(other.tools if other else {})})

    def openai_schema(self) -> list[dict[str, Any]]:
        return [{"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}} for t in self.tools.values()]

    async def call(self, name: str, arguments: Any) -> dict[str, Any]:
        """``{"result": ...}`` or ``{"error": "..."}``; never raises for a tool's own failure."""
        tool = self.tools.get(name)
        if tool is None:
            return {"error": f"no tool named {name!r}; available: {sorted(self.tools)}"}
        try:
            validate(arguments, tool.parameters)
        except ValueError as exc:
            return {"error": f"invalid arguments: {exc}"}
        try:
            return {"result": await asyncio.wait_for(tool.run(arguments), tool.timeout)}
        except asyncio.TimeoutError:
            return {"error": f"tool {name} timed out after {tool.timeout:g} s"}
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
