"""Parsing .env text: the accepted forms, and errors that name their line."""

import pytest

from dockyard_kit.errors import InvalidArgument
from services.projects.domain.dotenv import Assignment, parse
from services.projects.domain.env_vars import parse_dotenv


def values(text: str) -> dict[str, str]:
    return {a.key: a.value for a in parse(text)}


def test_plain_lines_comments_blank_lines_and_export():
    text = "# settings\n\nA=1\nexport B=two words\n  C = spaced  \nD=\nE=a=b\n"
    assert values(text) == {"A": "1", "B": "two words", "C": "spaced", "D": "", "E": "a=b"}


def test_line_numbers_are_kept():
    assert parse("# c\n\nA=1\r\nB=2") == [Assignment(3, "A", "1"), Assignment(4, "B", "2")]


def test_inline_comments_need_a_space_before_the_hash():
    assert values("A=1 # note\nB=x#y\nC='q' # note") == {"A": "1", "B": "x#y", "C": "q"}


def test_single_quotes_are_literal():
    assert values(r"A='a\nb $X \"'") == {"A": r"a\nb $X \""}


def test_double_quotes_take_escapes():
    assert values(r'A="line\nnext\ttab \"q\" back\\slash \$HOME"') == {
        "A": 'line\nnext\ttab "q" back\\slash $HOME'
    }


def test_quoted_values_may_span_lines():
    assignments = parse('KEY="-----BEGIN-----\nabc\n-----END-----"\nNEXT=1')
    assert assignments == [
        Assignment(1, "KEY", "-----BEGIN-----\nabc\n-----END-----"),
        Assignment(4, "NEXT", "1"),
    ]


def test_a_repeated_key_keeps_the_last_value():
    assert parse_dotenv("A=1\nA=2") == {"A": "2"}


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("A=1\nB=2\njust text", 3, "expected KEY=value"),
        ("A=1\n=2", 2, "key is missing"),
        ('A="open\nB=2', 1, "never closed"),
        ("A='x' trailing", 1, "after the closing quote"),
        ("A=1\nlower=2", 2, "lower: must match"),
        ("A=1\n\n9A=2", 3, "9A: must match"),
        ("A=1\nBIG=" + "x" * (64 * 1024 + 1), 2, "BIG: must be at most 64 KiB"),
    ],
)
def test_errors_name_the_line(text, line, words):
    with pytest.raises(InvalidArgument) as error:
        parse_dotenv(text)
    assert error.value.field == "dotenv"
    assert error.value.description.startswith(f"line {line}: ")
    assert words in error.value.description


def test_text_that_sets_nothing_is_refused():
    with pytest.raises(InvalidArgument, match="sets no variable"):
        parse_dotenv("# only a comment\n\n")
