"""How answers are printed: rich tables and colour on a terminal, tab-separated plain text when
piped (a header line, then one line per row), or with `--output json` the messages' JSON
(protobuf's JSON mapping with the proto field names, as the HTTP API spells them) for scripts."""

import enum
import json
import sys
from collections.abc import Iterable, Sequence

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from rich.console import Console
from rich.table import Table


class Format(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


def as_dict(message: Message) -> dict:
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":")) if value else ""
    return str(value)


class Output:
    def __init__(self, format: Format = Format.TEXT, *, terminal: bool | None = None) -> None:
        self.format = format
        self.terminal = sys.stdout.isatty() if terminal is None else terminal
        # Colour and markup only on a terminal; piped output stays plain.
        self.console = Console(highlight=False, soft_wrap=not self.terminal, no_color=not self.terminal)
        self.errors = Console(stderr=True, highlight=False, soft_wrap=True, no_color=not sys.stderr.isatty())

    @property
    def json(self) -> bool:
        return self.format == Format.JSON

    def print_json(self, value) -> None:
        sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def table(self, messages: Iterable[Message], columns: Sequence[str], *, key: str | None = None) -> None:
        """A list of messages: a table of the given fields, or (JSON) a list, or {key: list}."""
        rows = [as_dict(message) for message in messages]
        if self.json:
            self.print_json({key: rows} if key else rows)
            return
        self.rows(rows, columns)

    def rows(self, rows: list[dict], columns: Sequence[str]) -> None:
        if not self.terminal:
            sys.stdout.write("\t".join(column.upper() for column in columns) + "\n")
            for row in rows:
                sys.stdout.write("\t".join(cell(row.get(column)) for column in columns) + "\n")
            sys.stdout.flush()
            return
        table = Table(header_style="bold cyan", box=None, pad_edge=False)
        for column in columns:
            table.add_column(column.upper().replace("_", " "))
        for row in rows:
            table.add_row(*(cell(row.get(column)) for column in columns))
        self.console.print(table)
        if not rows:
            self.console.print("[dim](none)[/dim]")

    def record(self, message: Message, fields: Sequence[str] | None = None) -> None:
        """One message: its fields one per line ("name: value"), or (JSON) the message."""
        value = as_dict(message)
        if self.json:
            self.print_json(value)
            return
        self.fields(value, fields)

    def fields(self, value: dict, fields: Sequence[str] | None = None) -> None:
        names = list(fields) if fields else list(value)
        width = max((len(name) for name in names), default=0)
        for name in names:
            text = cell(value.get(name))
            if self.terminal:
                self.console.print(f"[bold]{name.ljust(width)}[/bold]  {text}", markup=True)
            else:
                sys.stdout.write(f"{name.ljust(width)}  {text}\n")
        sys.stdout.flush()

    def done(self, text: str, value: dict | None = None) -> None:
        """A confirmation: the sentence on a terminal or a pipe, `value` (or {}) as JSON."""
        if self.json:
            self.print_json(value or {})
        else:
            self.say(text)

    def say(self, text: str, style: str = "") -> None:
        """A line for people (stdout; never in JSON mode, where it goes to stderr)."""
        console = self.errors if self.json else self.console
        console.print(text, style=style or None, markup=False)

    def note(self, text: str, style: str = "") -> None:
        """Progress and hints, on stderr, so that stdout stays the answer."""
        self.errors.print(text, style=style or None, markup=False)

    def error(self, text: str) -> None:
        self.errors.print(f"error: {text}", style="bold red", markup=False)
