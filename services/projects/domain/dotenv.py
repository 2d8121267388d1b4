"""Parsing .env text (pure): KEY=value lines, blank lines and # comments, an optional `export `
prefix, and values that are bare (an inline comment needs a space before its #), single-quoted
(literal) or double-quoted (with \\n, \\r, \\t, \\", \\\\ and \\$ escapes). Quoted values may span
lines. Errors name the line: InvalidArgument("dotenv", "line 3: ...")."""

import dataclasses
import re

from dockyard_kit.errors import InvalidArgument

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}
_EXPORT = re.compile(r"export\s+")


@dataclasses.dataclass(frozen=True)
class Assignment:
    line: int
    key: str
    value: str


def error(line: int, description: str) -> InvalidArgument:
    return InvalidArgument("dotenv", f"line {line}: {description}")


def parse(text: str) -> list[Assignment]:
    """The assignments of `text` in order (a key set twice appears twice; the last one counts)."""
    lines = text.replace("\r\n", "\n").split("\n")
    assignments = []
    index = 0
    while index < len(lines):
        number = index + 1
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        line = _EXPORT.sub("", line, count=1) if _EXPORT.match(line) else line
        key, equals, rest = line.partition("=")
        key = key.strip()
        if not equals:
            raise error(number, "expected KEY=value")
        if not key:
            raise error(number, "the key is missing before =")
        rest = rest.lstrip()
        if rest[:1] in ('"', "'"):
            value, index = _quoted(lines, index - 1, len(lines[index - 1].rstrip()) - len(rest), number)
        else:
            value = re.split(r"\s#", rest, maxsplit=1)[0].rstrip()
        assignments.append(Assignment(number, key, value))
    return assignments


def _quoted(lines: list[str], index: int, start: int, number: int) -> tuple[str, int]:
    """The quoted value opening at lines[index][start], and the index of the line after it."""
    quote = lines[index][start]
    text = lines[index]
    position = start + 1
    value = []
    while True:
        if position >= len(text):
            index += 1
            if index >= len(lines):
                raise error(number, f"the value's {quote} is never closed")
            value.append("\n")
            text, position = lines[index], 0
            continue
        char = text[position]
        if char == quote:
            trailing = text[position + 1 :].strip()
            if trailing and not trailing.startswith("#"):
                raise error(index + 1, "unexpected text after the closing quote")
            return "".join(value), index + 1
        if char == "\\" and quote == '"' and position + 1 < len(text):
            escaped = text[position + 1]
            value.append(_ESCAPES.get(escaped, "\\" + escaped))
            position += 2
            continue
        value.append(char)
        position += 1
