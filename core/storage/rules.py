"""The trigger-rule store: each rule as its document (core/rules), by name.

Documents are parsed before they are written (a stored rule always parses), and written back
in their canonical form (`rule_doc`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime

from trocadero.core.errors import InvalidDocument
from trocadero.core.rules import Rule, parse_rule, rule_doc

from .base import NotFound, StorageError, ValidationError
from .driver import Dialect, Tx
from .sqlkit import SqlPart

__all__ = ["MAX_RULES", "RuleStore", "SqlRuleStore", "read_rules", "write_rules"]

MAX_RULES = 1000  # the engine evaluates every rule at each reading: a site has tens


class RuleStore(ABC):
    @abstractmethod
    async def list_rules(self) -> list[Rule]:
        """Every rule, in name order."""

    @abstractmethod
    async def get_rule(self, name: str) -> Rule: ...

    @abstractmethod
    async def put_rule(self, rule: Rule) -> bool:
        """Create or replace by name; True when it was created."""

    @abstractmethod
    async def delete_rule(self, name: str) -> None:
        """NotFound when there is none."""


def _decode(d: Dialect, name: str, value: object) -> Rule:
    try:
        return parse_rule(d.dec_json(value))
    except InvalidDocument as exc:
        raise StorageError(f'stored rule "{name}" does not parse: {exc.problems[0]}') from exc


async def read_rules(tx: Tx, d: Dialect) -> list[Rule]:
    rows = await tx.fetch("SELECT name, doc FROM trigger_rules ORDER BY name LIMIT ?", MAX_RULES)
    return [_decode(d, row["name"], row["doc"]) for row in rows]


async def write_rules(tx: Tx, d: Dialect, rules: Sequence[Rule]) -> None:
    """Replace every rule (a show import)."""
    if len(rules) > MAX_RULES:
        raise ValidationError([f"rules: at most {MAX_RULES} (got {len(rules)})"])
    await tx.execute("DELETE FROM trigger_rules")
    for rule in rules:
        await _upsert(tx, d, rule)


async def _upsert(tx: Tx, d: Dialect, rule: Rule) -> None:
    await tx.execute(
        "INSERT INTO trigger_rules (name, doc, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
        rule.name,
        d.enc_json(rule_doc(rule)),
        d.enc_ts(datetime.now(UTC)),
    )


class SqlRuleStore(SqlPart, RuleStore):
    async def list_rules(self) -> list[Rule]:
        async with self._read() as tx:
            return await read_rules(tx, self._d)

    async def get_rule(self, name: str) -> Rule:
        async with self._read() as tx:
            value = await tx.fetchval("SELECT doc FROM trigger_rules WHERE name = ?", name)
        if value is None:
            raise NotFound(f'no rule "{name}"')
        return _decode(self._d, name, value)

    async def put_rule(self, rule: Rule) -> bool:
        try:  # the document as it will be read back
            rule = parse_rule(rule_doc(rule))
        except InvalidDocument as exc:
            raise ValidationError(exc.problems) from exc
        async with self._db.transaction(write=True) as tx:
            found = await tx.fetchval("SELECT name FROM trigger_rules WHERE name = ?", rule.name)
            if found is None:
                count = await tx.fetchval("SELECT COUNT(*) AS n FROM trigger_rules")
                if int(count) >= MAX_RULES:
                    raise ValidationError([f"rules: at most {MAX_RULES}"])
            await _upsert(tx, self._d, rule)
        return found is None

    async def delete_rule(self, name: str) -> None:
        async with self._db.transaction(write=True) as tx:
            found = await tx.fetchval("SELECT name FROM trigger_rules WHERE name = ?", name)
            if found is None:
                raise NotFound(f'no rule "{name}"')
            await tx.execute("DELETE FROM trigger_rules WHERE name = ?", name)
