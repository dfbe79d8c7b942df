"""Input problems: collected, never raised one at a time, so a user fixes everything in one pass."""

from __future__ import annotations

import re
from dataclasses import dataclass

INTERRUPTED = "interrupted before any plan was found: nothing was written"
MAX_SHOWN = 40  # no message quotes more than this many characters of any cell
# C0 controls but tab, DEL and C1 controls: a terminal would act on them (ESC starts a control
# sequence), so no input text reaches one raw
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# what an input's text may not hold at all: the same, but for line breaks (a note may have them)
REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with every control character written as its code (ESC as \\x1b)."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """A cell's text for a message: quoted, cut to `limit` characters (children's data and
    free text never reach a terminal or log in full), control characters written as codes."""
    text = str(value)
    return "'" + printable(text if len(text) <= limit else text[:limit - 1] + "…") + "'"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one cell, row, column or file, with the fix a user can apply."""

    file: str
    row: str  # "row 12 (child_id C0012)", or "-" when the problem is not about one row
    column: str  # "-" when the problem is not about one column
    message: str
    fix: str

    def __str__(self) -> str:
        where = self.file
        if self.row != "-":
            where += f": {self.row}"
        if self.column != "-":
            where += f", column {self.column}"
        return f"{where}: {self.message}; fix: {self.fix}"


class InputRejected(Exception):
    """Raised at the end of validation when any problem was found; carries all of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the inputs")


class UsageError(Exception):
    """A command used in a way it cannot honour (exit 2): the message says what to do, and
    `option` names the option at fault (None: the command as a whole)."""

    option: str | None = None

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        if option is not None:
            self.option = option
