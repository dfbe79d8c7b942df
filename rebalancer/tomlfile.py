"""The one TOML reader: configuration, the SSD mapping file and scenario files all come through
it, so a missing file, a folder, bad UTF-8 or bad syntax gives the same clear problem for each."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from rebalancer.problems import InputRejected, Problem


def read_toml(path: Path, option: str, expected: str) -> dict[str, Any]:
    """The file's tables; InputRejected naming the file and the fix when it cannot be read.
    `option` is the flag that named the file, `expected` what the file should hold."""
    file = str(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        problem = Problem(file, "-", "-", "file not found", f"check the path given to {option}")
    except tomllib.TOMLDecodeError as exc:
        problem = Problem(file, "-", "-", f"not valid TOML ({exc})",
                          f"fix the TOML syntax ({expected})")
    except UnicodeDecodeError:
        problem = Problem(file, "-", "-", "not UTF-8 text", "save the file as UTF-8")
    except OSError as exc:
        problem = Problem(file, "-", "-", f"cannot be read ({exc.strerror or exc})",
                          f"check the path given to {option}")
    raise InputRejected([problem])
