"""The per-module table of a mutmut run (``make mutation``), checked against the floor.

mutmut keeps each mutated file's verdicts in ``mutants/<path>.meta`` (JSON: ``exit_code_by_key``,
mutant name -> the exit code of its test run). A mutant counts as killed when its tests failed
(1, or pytest's internal error 3), timed out (the mutant made them hang: noticed) or the type
check refused it; it survives when its tests passed (0) or none of the selected tests ran its
function (5, 33). Survivors listed in ``equivalent.md`` (one ``- `name`: reason`` line each)
cannot change behaviour and leave the count. Exit 1 when a module kills under the floor of
its mutants, when a survivor is neither killed nor listed, or when a mutant was not checked.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

KILLED = {1, 3, 36, 24, -24, 152, 255, 37}
SURVIVED = {0, 5, 33}
FLOOR = 0.85
_LISTED = re.compile(r"^- `(?P<name>[\w.ǁ]+__mutmut_\d+)`")


@dataclass
class ModuleScore:
    module: str
    killed: int = 0
    equivalent: int = 0
    survivors: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    @property
    def mutants(self) -> int:
        return self.killed + self.equivalent + len(self.survivors) + len(self.unchecked)

    @property
    def score(self) -> float:
        scored = self.mutants - self.equivalent
        return self.killed / scored if scored else 1.0


def equivalent_names(path: Path) -> set[str]:
    """The mutant names listed in ``equivalent.md`` (absent file: none)."""
    if not path.exists():
        return set()
    return {m["name"] for line in path.read_text("utf-8").splitlines() if (m := _LISTED.match(line))}


def scores(mutants_dir: Path, equivalent: set[str]) -> list[ModuleScore]:
    """One score per mutated module, from the ``.meta`` files under ``mutants_dir``."""
    result = []
    for meta in sorted(mutants_dir.rglob("*.py.meta")):
        codes: dict[str, int | None] = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
        if not codes:
            continue
        module = next(iter(codes)).split(".x_")[0].split(".xǁ")[0]
        score = ModuleScore(module)
        for name, code in sorted(codes.items()):
            if code in KILLED:
                score.killed += 1
            elif name in equivalent:
                score.equivalent += 1
            elif code in SURVIVED:
                score.survivors.append(name)
            else:
                score.unchecked.append(f"{name} (exit {code})")
        result.append(score)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="mutmut's project folder (holds mutants/ and equivalent.md)")
    parser.add_argument("--floor", type=float, default=FLOOR)
    args = parser.parse_args(argv)
    results = scores(args.root / "mutants", equivalent_names(args.root / "equivalent.md"))
    if not results:
        print(f"no mutmut results under {args.root / 'mutants'}", file=sys.stderr)
        return 1
    print("| module | mutants | killed | equivalent | survived | killed % |\n|---|---|---|---|---|---|")
    failing = False
    for s in results:
        print(f"| `{s.module}` | {s.mutants} | {s.killed} | {s.equivalent} | {len(s.survivors)} | {s.score:.0%} |")
        failing |= s.score < args.floor or bool(s.survivors) or bool(s.unchecked)
    for s in results:
        for name in s.survivors:
            print(f"survived (kill it, or list it in equivalent.md with why): {name}")
        for name in s.unchecked:
            print(f"not checked: {name}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
