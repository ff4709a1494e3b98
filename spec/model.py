"""The spec's data types: views, evidence tags, documented fields, field domains, errata, header rules."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any, Literal

SeverityName = Literal["error", "warning"]
When = Literal["success", "error", "any"]


class View(enum.StrEnum):
    """Which reading of the API a schema encodes."""

    DOCUMENTED = "documented"  # the tables exactly
    SERVED = "served"  # the tables with the errata applied: what real servers and clients do


class Evidence(enum.StrEnum):
    """Where a constraint comes from; decides its default severity."""

    DOCUMENTED = "documented"
    OFFICIAL_SCHEMA = "official-schema"
    CLIENT_CONTRACT = "client-contract"
    OBSERVED = "observed"
    LEGACY = "legacy"


def default_severity(evidence: Evidence | str) -> SeverityName | None:
    """Severity of a failed constraint with this evidence: ``None`` means legacy, checked only on request."""
    ev = Evidence(evidence)
    if ev is Evidence.LEGACY:
        return None
    if ev is Evidence.OBSERVED:
        return "warning"
    return "error"


@dataclass(frozen=True)
class Upstream:
    """The documentation page the tables were transcribed from."""

    repo: str
    path: str
    commit: str
    date: str

    @property
    def url(self) -> str:
        return f"https://github.com/{self.repo}/blob/{self.commit}/{self.path}"


@dataclass(frozen=True)
class Field:
    """One row of a documented table.

    ``table`` is payload | headers | body; ``path`` spells the nesting with dots
    ("parameters.generation_parameters.top_k"; header names for the headers table); ``type`` is the
    type as the table prints it (string, object, boolean, number, integer, enum, object[], number[]).
    """

    table: str
    path: str
    type: str
    required: bool
    description: str
    enum: tuple[Any, ...] | None = None
    default: Any = None
    quote: str | None = None
    pattern: str | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def parent(self) -> str | None:
        return self.path.rsplit(".", 1)[0] if "." in self.path else None

    @property
    def depth(self) -> int:
        return self.path.count(".")


@dataclass(frozen=True)
class DomainValue:
    """One value of a field's domain, with its provenance.

    For ``inputs`` (and ``@missing`` on headers) the value is a symbolic string starting with "@" that the
    suite renders; JSON null is ``None``.
    """

    value: Any
    evidence: Evidence
    note: str

    @property
    def symbolic(self) -> bool:
        return isinstance(self.value, str) and self.value.startswith("@")


@dataclass(frozen=True)
class Domain:
    """What a field must accept, must reject, and what is up to the implementation."""

    must_accept: tuple[DomainValue, ...]
    must_reject: tuple[DomainValue, ...]
    implementation_defined: tuple[DomainValue, ...]


@dataclass(frozen=True)
class Patch:
    """One JSON Patch operation (RFC 6902 subset) an erratum applies to a documented schema."""

    schema: str
    op: str
    path: str
    value: Any = None
    from_: str | None = None


@dataclass(frozen=True)
class Erratum:
    """A place where the documented tables disagree with the real service or its clients."""

    id: str
    title: str
    evidence: Evidence
    severity: SeverityName | None
    refs: tuple[str, ...]
    effect: str
    applies_to: tuple[str, ...]
    patches: tuple[Patch, ...] = field(default=())
    withdrawn: bool = False


@dataclass(frozen=True)
class HeaderRule:
    """A rule for one response header; ``pattern`` must match the whole value ('' = any value)."""

    name: str
    pattern: str
    evidence: Evidence
    when: When
    note: str
    example: str | None = None

    @property
    def severity(self) -> SeverityName | None:
        return default_severity(self.evidence)

    def applies(self, status: int) -> bool:
        """Whether the rule concerns a response with this status."""
        if self.when == "any":
            return True
        return (200 <= status < 300) == (self.when == "success")

    def matches(self, value: str) -> bool:
        return re.fullmatch(self.pattern, value) is not None if self.pattern else True
