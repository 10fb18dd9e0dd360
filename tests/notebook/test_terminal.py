"""Output rendered as a terminal shows it: ``\\r`` overwrites, colours become spans, every
other control character is shown escaped, and nothing a task prints becomes raw HTML."""

from __future__ import annotations

import re
import unicodedata
from html import unescape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backgrounder.notebook.terminal import (
    PALETTE,
    escape_controls,
    last_line,
    terminal_html,
    terminal_text,
)

ISSUE_EXAMPLE = "\x1b[31mred\x1b[0m plain\n\r0/3\r1/3\r2/3\n"
OUR_TAGS = re.compile(r'<span style="[^"<>]*">|</span>')


def test_the_issue_example() -> None:
    assert terminal_text(ISSUE_EXAMPLE) == "red plain\n2/3\n"
    assert terminal_html(ISSUE_EXAMPLE) == (
        f'<span style="color:{PALETTE[1]}">red</span> plain\n2/3\n'
    )


@pytest.mark.parametrize(
    ("printed", "shown"),
    [
        ("plain text\n", "plain text\n"),
        ("abcdef\rXY", "XYcdef"),  # a terminal overwrites, it does not clear
        ("done\r\nnext", "done\nnext"),  # CRLF is a newline
        ("50%\r100%\r", "100%"),  # a trailing \r leaves the line as it was
        ("ab\bX", "aX"),
        ("\b\bx", "x"),  # backspace stops at the first column
        ("\rabc", "abc"),
        ("progress 10%\r\x1b[Kdone", "done"),  # erase to the end of the line
        ("abcdef\x1b[3Dx", "abcdef\\x1b[3Dx"),  # cursor moves are shown, not played
        ("abc\x1b[1Kd", "   d"),  # erase from the start of the line
        ("abc\r\x1b[2Kx", "x"),
        ("tab\tkept", "tab\tkept"),
    ],
)
def test_text_view(printed: str, shown: str) -> None:
    assert terminal_text(printed) == shown


@pytest.mark.parametrize(
    ("printed", "shown"),
    [
        ("\x1b[2J\x1b[Hfake", "\\x1b[2J\\x1b[Hfake"),  # clear screen, cursor home
        ("\x1b]0;pwned\x07title", "\\x1b]0;pwned\\x07title"),  # retitle the terminal
        ("\x1b]8;;http://x\x1b\\link", "\\x1b]8;;http://x\\x1b\\link"),  # OSC 8 hyperlink
        ("up\x1b[1A\x1b[2Kfake row", " " * 9 + "fake row"),  # erases its own line only
        ("nul\x00bell\x07", "nul\\x00bell\\x07"),
        ("c1\x9bcsi \x85nel", "c1\\x9bcsi \\x85nel"),
        ("line\u2028sep\u2029par", "line\\u2028sep\\u2029par"),
        ("bidi \u202eevil\u202c", "bidi \\u202eevil\\u202c"),
        ("lone \ud800", "lone \\ud800"),
        ("\x1b", "\\x1b"),
        ("vt\x0bff\x0cdel\x7f", "vt\\x0bff\\x0cdel\\x7f"),
    ],
)
def test_controls_are_shown_escaped(printed: str, shown: str) -> None:
    assert terminal_text(printed) == shown
    assert unescape(OUR_TAGS.sub("", terminal_html(printed))) == shown


def test_colours_and_styles() -> None:
    html = terminal_html("\x1b[1;32mok\x1b[22m \x1b[38;5;196mhot\x1b[0m \x1b[48;2;0;0;255mbg")
    assert html == (
        f'<span style="color:{PALETTE[2]};font-weight:bold">ok</span>'
        f'<span style="color:{PALETTE[2]}"> </span>'
        '<span style="color:#ff0000">hot</span> '
        '<span style="background-color:#0000ff">bg</span>'
    )
    assert terminal_text("\x1b[1;32mok\x1b[22m \x1b[38;5;196mhot\x1b[0m") == "ok hot"
    # a colour survives an overwrite only where it was written
    assert terminal_html("\x1b[31mabc\x1b[0m\rX") == f'X<span style="color:{PALETTE[1]}">bc</span>'
    # bright, 256-colour cube and grey ramp, malformed sequences ignored
    assert f"color:{PALETTE[9]}" in terminal_html("\x1b[91mx")
    assert "color:#5f87af" in terminal_html("\x1b[38;5;67mx")
    assert "color:#080808" in terminal_html("\x1b[38;5;232mx")
    assert terminal_html("\x1b[38;5;999mx\x1b[38;2;1mY\x1b[38mZ") == "xYZ"


def test_markup_in_output_is_text() -> None:
    evil = '<img src=x onerror=alert(1)>\x1b[31m<script>"&'
    html = terminal_html(evil)
    assert "<img" not in html and "<script" not in html
    assert unescape(OUR_TAGS.sub("", html)) == '<img src=x onerror=alert(1)><script>"&'
    # quotes are escaped by the caller's attribute code, never inside a <pre>: but no tag
    # we make has text from the output in it
    assert OUR_TAGS.sub("", html).count("<") == 0


def test_escape_controls_for_one_line_fields() -> None:
    assert escape_controls("name\nfake row\r\x1b[2J") == "name\\nfake row\\r\\x1b[2J"
    assert escape_controls("a\nb", keep_newlines=True) == "a\nb"
    assert escape_controls("tabs\tand ünïcode ✓") == "tabs\tand ünïcode ✓"


def test_last_line() -> None:
    assert last_line("epoch 1\nepoch 2\r\x1b[32mepoch 3\x1b[0m\n\n") == "epoch 3"
    assert last_line("") == ""
    assert last_line("\n \n") == ""


def test_long_output_is_fast_enough() -> None:
    # 300 tqdm-like frames on one line and 4,000 lines of colour: rendered once each
    frames = "".join(f"\r{i:3d}/300 |{'#' * (i // 10):30s}|" for i in range(301)) + "\n"
    assert terminal_text(frames) == f"300/300 |{'#' * 30}|\n"
    colour = "\x1b[32mok\x1b[0m line\n" * 4000
    assert terminal_text(colour) == "ok line\n" * 4000


# -- properties ----------------------------------------------------------------------------

# text that looks like terminal output: escapes, colours, controls, markup, any unicode
pieces = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        [
            "\r",
            "\n",
            "\r\n",
            "\b",
            "\t",
            "\x1b",
            "\x1b[",
            "\x1b[0m",
            "\x1b[1;31m",
            "\x1b[38;5;",
            "\x1b[38;2;10;20;30m",
            "\x1b[2J",
            "\x1b[K",
            "\x1b[1A",
            "\x1b]0;t\x07",
            "\x1b]",
            "\x07",
            "\x00",
            "\x9b",
            "\u2028",
            "\u202e",
            "<",
            ">",
            "&",
            '"',
            "<span style='x'>",
            "</span>",
            "&lt;",
        ]
    ),
)
terminal_output = st.lists(pieces, max_size=30).map("".join)

ALLOWED = {"\n", "\t"}


def _raw_controls(text: str) -> list[str]:
    return [
        c
        for c in text
        if c not in ALLOWED
        and (
            unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs")
            or "\u202a" <= c <= "\u202e"
            or "\u2066" <= c <= "\u2069"
        )
    ]


@settings(max_examples=400, deadline=None)
@given(terminal_output)
def test_no_raw_html_and_no_raw_controls(printed: str) -> None:
    html = terminal_html(printed)
    text = terminal_text(printed)
    # the only tags are our spans; the text between them has no markup left
    assert "<" not in OUR_TAGS.sub("", html)
    assert ">" not in OUR_TAGS.sub("", html)
    assert not _raw_controls(html)
    assert not _raw_controls(text)
    # both views show the same characters
    assert unescape(OUR_TAGS.sub("", html)) == text
    # as many lines as were printed (a control cannot add or remove one)
    assert text.count("\n") == printed.replace("\r\n", "\n").count("\n")


@settings(max_examples=200, deadline=None)
@given(terminal_output)
def test_rendering_is_stable(printed: str) -> None:
    text = terminal_text(printed)
    assert terminal_text(text) == text  # nothing left to interpret
    line = escape_controls(printed)
    assert "\n" not in line and not _raw_controls(line)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))))
def test_plain_text_is_shown_as_is(printed: str) -> None:
    printed = re.sub("[\u202a-\u202e\u2066-\u2069]", "", printed)
    assert terminal_text(printed) == printed
    assert unescape(terminal_html(printed)) == printed
