"""Problems found in a curriculum: what is wrong, in which file and on which line, and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    path: Path
    line: int  # 1-based; 0 when the problem is about the whole file or folder
    message: str

    def format(self, root: Path | None = None) -> str:
        where = self.path
        if root is not None:
            try:
                where = self.path.relative_to(root.parent)
            except ValueError:
                pass
        location = f"{where}:{self.line}" if self.line else f"{where}"
        return f"{location}: {self.message}"


class CurriculumError(Exception):
    """Raised by the build when the curriculum has problems; carries all of them."""

    def __init__(self, problems: list[Problem], root: Path):
        self.problems = problems
        self.root = root
        super().__init__(format_problems(problems, root))


def format_problems(problems: list[Problem], root: Path) -> str:
    lines = [p.format(root) for p in sorted(problems)]
    count = len(problems)
    lines.append(f"{count} problem{'s' if count != 1 else ''} found in {root}.")
    return "\n".join(lines)
