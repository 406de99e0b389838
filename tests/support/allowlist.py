"""Import-linter contract types for the layer table of STYLE.md §2, written as an allowlist.

import-linter's own contracts are denylists (`forbidden`, `layers`): a module may import
anything nobody thought to forbid. The table says the opposite: a module imports what its row
names and nothing else. Two contract types say that:

- `allowlist`: every module of one row imports only its own row, the shared modules
  (`shared_modules` in `[tool.importlinter]`), what `allow` names, the standard library and the
  packages `external` names; never what `never` names (the table's last column, which may name
  standard modules such as sqlite3). `exceptions` lets one module import one more thing, each
  written as "importer -> imported: why".
- `covered`: every module of the package is in some row, or in the explicit `unrestricted`
  list, so a new top-level module cannot slip by unchecked.

The import graph is grimp's, so `from pkg import module` and relative imports are resolved to the
module they name. Grimp squashes external packages to their top-level name (`google`,
`opentelemetry`); the dotted name is read back from the import's line, so a row can allow
`opentelemetry.proto` without allowing `opentelemetry.sdk` (`from google import protobuf` reads
as `google`, and so is refused where only `google.protobuf` is allowed: the safe side).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output
from importlinter.domain.contract import InvalidContractOptions

_FROM = re.compile(r"^\s*from\s+([\w.]+)\s+import\b")
_IMPORT = re.compile(r"^\s*import\s+(.+)$")


def _within(name: str, package: str) -> bool:
    """name is package itself or one of its descendants."""
    return name == package or name.startswith(package + ".")


def _within_any(name: str, packages: list[str]) -> bool:
    return any(_within(name, p) for p in packages)


@dataclass(frozen=True, slots=True)
class Exemption:
    """One import a row does not name, allowed on its own, with its reason."""

    importer: str
    imported: str
    why: str

    @classmethod
    def parse(cls, text: str) -> Exemption:
        pair, _, why = text.partition(":")
        importer, arrow, imported = pair.partition("->")
        if not arrow or not why.strip():
            raise ValueError(f"exception {text!r} is not 'importer -> imported: why'")
        return cls(importer.strip(), imported.strip(), why.strip())

    def covers(self, importer: str, imported: str) -> bool:
        return _within(importer, self.importer) and _within(imported, self.imported)


def _external_names(graph: ImportGraph, importer: str, squashed: str) -> list[str]:
    """The dotted names importer's lines give for the squashed external package `squashed`."""
    names = []
    for detail in graph.get_import_details(importer=importer, imported=squashed):
        line = detail["line_contents"].split("#")[0]
        if m := _FROM.match(line):
            names.append(m.group(1))
        elif m := _IMPORT.match(line):
            parts = (p.strip().split(" as ")[0].strip() for p in m.group(1).split(","))
            names.extend(p for p in parts if _within(p, squashed))
    return sorted(set(names)) or [squashed]


def _line_numbers(graph: ImportGraph, importer: str, imported: str) -> list[int]:
    return sorted({d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)})


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the table, typed: what its modules may import."""

    modules: tuple[str, ...]
    as_packages: bool
    allowed: tuple[str, ...]  # agentwatch modules beyond the row's own (shared ones included)
    external: tuple[str, ...]  # packages beyond the standard library
    never: tuple[str, ...]
    exemptions: tuple[Exemption, ...]

    def refusal(self, importer: str, name: str, internal: bool, members: set[str]) -> str | Exemption | None:
        """Why importer may not import name, the exemption that lets it, or None when its row does."""
        if _within_any(name, self.never):
            return "never, says the table"
        if self._names(name, internal, members):
            return None
        for exemption in self.exemptions:
            if exemption.covers(importer, name):
                return exemption
        return "not in its row" if internal else "external package not in its row"

    def _names(self, name: str, internal: bool, members: set[str]) -> bool:
        if not internal:
            return name.split(".")[0] in sys.stdlib_module_names or _within_any(name, self.external)
        own = self.modules if self.as_packages else ()
        return name in members or _within_any(name, [*own, *self.allowed])


class Allowlist(Contract):
    """One row of the layer table: what its modules may import, and nothing else."""

    type_name = "allowlist"

    modules = fields.ListField(subfield=fields.StringField())
    allow = fields.ListField(subfield=fields.StringField(), required=False, default=[])
    external = fields.ListField(subfield=fields.StringField(), required=False, default=[])
    never = fields.ListField(subfield=fields.StringField(), required=False, default=[])
    exceptions = fields.ListField(subfield=fields.StringField(), required=False, default=[])
    # The package root's __init__ runs on every import of the package: it may not even take the
    # shared modules, and it is a module, not the package of everything.
    shared = fields.BooleanField(required=False, default=True)
    as_packages = fields.BooleanField(required=False, default=True)
    reason = fields.TextField()

    def validate(self) -> None:
        options: dict[str, Any] = vars(self)  # the fields, parsed
        try:
            exemptions = tuple(Exemption.parse(e) for e in options["exceptions"])
        except ValueError as e:
            raise InvalidContractOptions({"exceptions": str(e)}) from e
        shared = self.session_options.get("shared_modules", []) if options["shared"] else []
        self.row = Row(
            modules=tuple(options["modules"]),
            as_packages=options["as_packages"],
            allowed=(*options["allow"], *shared),
            external=tuple(options["external"]),
            never=tuple(options["never"]),
            exemptions=exemptions,
        )
        clash = [n for n in self.row.never if _within_any(n, [*self.row.allowed, *self.row.external])]
        clash += [e.imported for e in exemptions if _within_any(e.imported, self.row.never)]
        if clash:
            raise InvalidContractOptions({"never": f"also allowed: {', '.join(clash)}"})

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        roots = list(self.session_options["root_packages"])
        members = self._members(graph)
        used: set[Exemption] = set()
        violations = []
        for importer in sorted(members):
            for squashed in sorted(graph.find_modules_directly_imported_by(importer)):
                internal = _within_any(squashed, roots)
                for name in [squashed] if internal else _external_names(graph, importer, squashed):
                    refusal = self.row.refusal(importer, name, internal, members)
                    if isinstance(refusal, Exemption):
                        used.add(refusal)
                    elif refusal:
                        lines = _line_numbers(graph, importer, squashed)
                        violations.append({"importer": importer, "imported": name, "lines": lines, "why": refusal})
        # A stale exemption is only a warning: another branch may drop the import it was for.
        stale = [f"exception never used: {e.importer} -> {e.imported}" for e in self.row.exemptions if e not in used]
        return ContractCheck(kept=not violations, metadata={"violations": violations}, warnings=stale)

    def _members(self, graph: ImportGraph) -> set[str]:
        missing = [m for m in self.row.modules if m not in graph.modules]
        if missing:
            raise ValueError(f"{self.name}: no such module {', '.join(missing)}")
        if not self.row.as_packages:
            return set(self.row.modules)
        return {m for top in self.row.modules for m in (top, *graph.find_descendants(top))}

    def render_broken_contract(self, check: ContractCheck) -> None:
        for v in check.metadata["violations"]:
            lines = ", ".join(f"l.{n}" for n in v["lines"])
            output.print_error(f"{v['importer']} -> {v['imported']} ({lines}): {v['why']}", bold=False)
        output.new_line()
        output.print(f"The row's reason: {self.reason}")


class Covered(Contract):
    """Every module of the package belongs to a row of the table, or is named unrestricted."""

    type_name = "covered"

    layers = fields.ListField(subfield=fields.StringField())
    # Modules that may import anything (they compose the layers). Some may not exist yet:
    # naming a module here before it is written is harmless, it only lets it in unchecked.
    unrestricted = fields.ListField(subfield=fields.StringField())
    reason = fields.TextField()

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        options: dict[str, Any] = vars(self)  # the fields, parsed
        roots = list(self.session_options["root_packages"])
        named: list[str] = [*options["layers"], *options["unrestricted"]]
        # A root names only its own __init__: as a package it would cover everything.
        packages = [p for p in named if p not in roots]
        ours = sorted(m for m in graph.modules if _within_any(m, roots))
        uncovered = [m for m in ours if not (m in named if m in roots else _within_any(m, packages))]
        return ContractCheck(kept=not uncovered, metadata={"uncovered": uncovered})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for module in check.metadata["uncovered"]:
            output.print_error(f"{module} is in no row of the layer table", bold=False)
        output.new_line()
        output.print(f"Reason: {self.reason}")


def contract_options(pyproject: dict[str, Any], type_name: str) -> list[dict[str, Any]]:
    """The contracts of one type in a parsed pyproject.toml (for tests that read the table)."""
    contracts = pyproject["tool"]["importlinter"]["contracts"]
    return [c for c in contracts if c["type"] == type_name]
