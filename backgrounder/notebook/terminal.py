"""What a task printed, shown as a terminal would show it: pure functions of the text.

``\\r`` returns to the start of the line and what follows overwrites it (``\\r\\n`` is a
newline), ``\\b`` steps back one column, and ANSI SGR sequences (colours, bold, ...) set the
style: coloured ``<span>``s in HTML, dropped in text. ``ESC [ K`` erases within the line.
Every other control character or escape sequence is shown escaped, as ``repr`` writes it
(``\\x1b[2J``, ``\\x1b]0;title\\x07``, ``\\x00``): printed to a terminal, they could clear the
screen, retitle the window or move the cursor to fake a row of the table (issue 13, item 12).
So are the Unicode line separators and the bidi overrides that can reorder a line.

The task's stored ``output`` is never changed: these functions render it for a view.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any, NamedTuple

__all__ = ["escape_controls", "last_line", "terminal_html", "terminal_text"]

# C0 (but \t and \n), DEL, C1, the line/paragraph separators, bidi embeddings, overrides
# and isolates, and lone surrogates (which cannot even be encoded to send).
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_CONTROLS = re.compile(f"[{_CONTROL}]")
_TOKENS = re.compile(
    r"(?P<csi>\x1b\[(?P<params>[0-?]*)[ -/]*(?P<final>[@-~]))"  # CSI: ESC [ params final
    r"|(?P<osc>\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?)"  # OSC: ESC ] ... BEL or ST
    r"|(?P<esc>\x1b[ -~]?)"  # any other escape (or a lone ESC)
    f"|(?P<ctl>[{_CONTROL}])"  # one control character
)


def _escape_char(char: str) -> str:
    """A control character as ``repr`` writes it: ``\\x1b``, ``\\u2028``, ``\\ud800``."""
    if char == "\r":
        return "\\r"
    if char == "\n":
        return "\\n"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character escaped, nothing interpreted.

    For one-line fields (names, results, errors): a newline there could fake a row, so it
    is escaped too unless ``keep_newlines``.
    """
    pattern = _CONTROLS if keep_newlines else _CONTROLS_OR_NEWLINE
    return pattern.sub(lambda m: _escape_char(m.group()), text)


_CONTROLS_OR_NEWLINE = re.compile(f"[{_CONTROL}\n]")


# -- styles ------------------------------------------------------------------------------


class Style(NamedTuple):
    """The SGR state of a cell: colours as CSS values, or None for the default."""

    fg: str | None = None
    bg: str | None = None
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False
    inverse: bool = False
    strike: bool = False

    def css(self) -> str:
        fg, bg = self.fg, self.bg
        if self.inverse:
            fg, bg = bg or "#ffffff", fg or "#000000"
        parts = []
        if fg:
            parts.append(f"color:{fg}")
        if bg:
            parts.append(f"background-color:{bg}")
        if self.bold:
            parts.append("font-weight:bold")
        if self.dim:
            parts.append("opacity:0.7")
        if self.italic:
            parts.append("font-style:italic")
        lines = [
            name
            for on, name in ((self.underline, "underline"), (self.strike, "line-through"))
            if on
        ]
        if lines:
            parts.append("text-decoration:" + " ".join(lines))
        return ";".join(parts)


PLAIN = Style()

# The 16 ANSI colours: the classic Jupyter notebook palette, readable on light and dark.
PALETTE = (
    "#3e424d", "#e75c58", "#00a250", "#ddb62b", "#208ffb", "#d160c4", "#60c6c8", "#c5c1b4",
    "#282c36", "#b22b31", "#007427", "#b27d12", "#0065ca", "#a03196", "#258f8f", "#a1a6b2",
)  # fmt: skip


def _color_256(n: int) -> str | None:
    if not 0 <= n <= 255:
        return None
    if n < 16:
        return PALETTE[n]
    if n < 232:  # the 6x6x6 cube
        n -= 16
        levels = [0 if c == 0 else 55 + 40 * c for c in (n // 36, n // 6 % 6, n % 6)]
        return "#{:02x}{:02x}{:02x}".format(*levels)
    grey = 8 + 10 * (n - 232)
    return f"#{grey:02x}{grey:02x}{grey:02x}"


def _extended(codes: list[int], i: int) -> tuple[str | None, int]:
    """``38;5;N`` or ``38;2;R;G;B`` starting at ``codes[i]`` (the 38/48): colour, next index."""
    if i + 1 < len(codes) and codes[i + 1] == 5 and i + 2 < len(codes):
        return _color_256(codes[i + 2]), i + 3
    if i + 1 < len(codes) and codes[i + 1] == 2 and i + 4 < len(codes):
        rgb = codes[i + 2 : i + 5]
        if all(0 <= c <= 255 for c in rgb):
            return "#{:02x}{:02x}{:02x}".format(*rgb), i + 5
        return None, i + 5
    return None, len(codes)  # malformed: ignore the rest


# SGR codes that set or clear one attribute (22 clears both bold and dim, as terminals do)
_ATTRIBUTES: dict[int, dict[str, Any]] = {
    1: {"bold": True},
    2: {"dim": True},
    3: {"italic": True},
    4: {"underline": True},
    7: {"inverse": True},
    9: {"strike": True},
    22: {"bold": False, "dim": False},
    23: {"italic": False},
    24: {"underline": False},
    27: {"inverse": False},
    29: {"strike": False},
}


def _apply_sgr(style: Style, params: str) -> Style:
    """The style after ``ESC [ params m``."""
    try:
        codes = [int(p) if p else 0 for p in params.replace(":", ";").split(";")]
    except ValueError:  # private parameters (``<``, ``=``, ``>``, ``?``): not SGR
        return style
    i = 0
    while i < len(codes):
        code = codes[i]
        i += 1
        if code == 0:
            style = PLAIN
        elif code in _ATTRIBUTES:
            style = style._replace(**_ATTRIBUTES[code])
        elif 30 <= code <= 37:
            style = style._replace(fg=PALETTE[code - 30])
        elif 90 <= code <= 97:
            style = style._replace(fg=PALETTE[code - 90 + 8])
        elif 40 <= code <= 47:
            style = style._replace(bg=PALETTE[code - 40])
        elif 100 <= code <= 107:
            style = style._replace(bg=PALETTE[code - 100 + 8])
        elif code == 39:
            style = style._replace(fg=None)
        elif code == 49:
            style = style._replace(bg=None)
        elif code in (38, 48):
            color, i = _extended(codes, i - 1)
            if color is not None:
                style = style._replace(fg=color) if code == 38 else style._replace(bg=color)
        # anything else (blink, fonts, ...) changes nothing shown here
    return style


# -- the screen --------------------------------------------------------------------------

Line = list[tuple[str, Style]]  # one cell per character shown


def _put(line: Line, col: int, text: str, style: Style) -> int:
    """Write ``text`` at column ``col`` of ``line``, overwriting; the column after it."""
    end = col + len(text)
    cells = [(char, style) for char in text]
    if col > len(line):
        line.extend([(" ", PLAIN)] * (col - len(line)))
    line[col:end] = cells
    return end


def _lines(text: str) -> list[Line]:
    """Play ``text`` on a screen of unbounded lines: the cells of each line."""
    lines: list[Line] = []
    style = PLAIN
    for raw in text.replace("\r\n", "\n").split("\n"):
        line: Line = []
        col = 0
        pos = 0
        for match in _TOKENS.finditer(raw):
            if match.start() > pos:
                col = _put(line, col, raw[pos : match.start()], style)
            pos = match.end()
            token = match.group()
            if token == "\r":
                col = 0
            elif token == "\b":
                col = max(0, col - 1)
            elif match.group("csi") and match.group("final") == "m":
                style = _apply_sgr(style, match.group("params"))
            elif match.group("csi") and match.group("final") == "K" and _erase_mode(match):
                mode = match.group("params") or "0"
                if mode != "0":  # from the start of the line (1) or all of it (2): blanks
                    upto = len(line) if mode == "2" else min(col + 1, len(line))
                    line[:upto] = [(" ", PLAIN)] * upto
                if mode != "1":  # to the end of the line (0, 2)
                    del line[col:]
            else:  # shown, escaped: it must not act on whatever displays it
                col = _put(line, col, escape_controls(token), style)
        if pos < len(raw):
            _put(line, col, raw[pos:], style)
        lines.append(line)
    return lines


def _erase_mode(match: re.Match[str]) -> bool:
    return match.group("params") in ("", "0", "1", "2")


def _needs_screen(text: str) -> bool:
    return _CONTROLS.search(text) is not None


def terminal_text(text: str) -> str:
    """``text`` as a terminal would leave it, without styles; other controls escaped."""
    if not _needs_screen(text):
        return text
    return "\n".join("".join(char for char, _ in line) for line in _lines(text))


def terminal_html(text: str) -> str:
    """``text`` as a terminal would leave it, as HTML (for a ``<pre>``): escaped, and coloured
    with ``<span style=...>`` where SGR sequences set a style."""
    if not _needs_screen(text):
        return escape(text, quote=False)
    out: list[str] = []
    for n, line in enumerate(_lines(text)):
        if n:
            out.append("\n")
        # runs of cells with one style
        i = 0
        while i < len(line):
            style = line[i][1]
            j = i
            while j < len(line) and line[j][1] == style:
                j += 1
            chunk = escape("".join(char for char, _ in line[i:j]), quote=False)
            css = style.css()
            out.append(f'<span style="{css}">{chunk}</span>' if css else chunk)
            i = j
    return "".join(out)


def last_line(text: str) -> str:
    """The last non-blank line the terminal would show, styles dropped (a row's preview)."""
    shown = terminal_text(text)
    for line in reversed(shown.split("\n")):
        if line.strip():
            return line.strip()
    return ""
