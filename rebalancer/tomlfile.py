"""The one TOML reader: configuration, the SSD mapping file and scenario files all come through
it, so a missing file, a folder, bad UTF-8 or bad syntax gives the same clear problem for each."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from rebalancer.problems import InputRejected, Problem

# Far above any configuration, mapping or scenario file a person writes (the shipped
# configuration is 1.6 KB and 3 tables deep); a file past them is refused before it is parsed
# (a 30,000-deep nesting would exhaust Python's stack, /dev/zero would never end).
MAX_BYTES = 1_000_000
MAX_DEPTH = 20
MAX_VALUES = 100_000


def read_toml(path: Path, option: str, expected: str) -> dict[str, Any]:
    """The file's tables; InputRejected naming the file and the fix when it cannot be read.
    `option` is the flag that named the file, `expected` what the file should hold."""
    file = str(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            problem = Problem(file, "-", "-", f"larger than {MAX_BYTES:,} bytes",
                              f"give the right file to {option} ({expected})")
        elif _depth(data) > MAX_DEPTH:
            problem = Problem(file, "-", "-", f"nested more than {MAX_DEPTH} levels deep",
                              f"flatten the tables and lists ({expected})")
        else:
            tree = tomllib.loads(data.decode("utf-8"))
            if _count(tree) > MAX_VALUES:
                problem = Problem(file, "-", "-", f"holds more than {MAX_VALUES:,} values",
                                  f"give the right file to {option} ({expected})")
            else:
                return tree
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


def _depth(data: bytes) -> int:
    """An upper bound on the nesting of arrays, inline tables and dotted table headers, read
    from the raw bytes (brackets and braces outside comments and strings are over-counted, which
    only makes the bound safer)."""
    depth = deepest = 0
    for byte in data:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth = max(depth - 1, 0)
    dots = max((line.count(b".") + 1 for line in data.splitlines()
                if line.lstrip().startswith(b"[")), default=0)
    return max(deepest, dots)


def _count(tree: Any) -> int:
    """How many values (and tables) a parsed tree holds."""
    stack, n = [tree], 0
    while stack:
        node = stack.pop()
        n += 1
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return n
