"""Trigger rules: the building reacting to its sensors, clock and sun (issue 21 item 4).

Sans-IO and pure: `model` (the typed rule), `parse` (documents → rules, errors naming the
path), `conditions` (evaluating a condition tree against readings and a time), `engine`
(debounce, hysteresis, minimum on/off, cooldown: readings and ticks in, fires out). The
daemon's task (playout/rules.py) feeds it and carries the fires out through the Controller.
"""

from __future__ import annotations

from .engine import Fire, Reading, RuleEngine, Site, TouchFrame
from .model import Rule
from .parse import parse_rule, rule_doc

__all__ = [
    "Fire",
    "Reading",
    "Rule",
    "RuleEngine",
    "Site",
    "TouchFrame",
    "parse_rule",
    "rule_doc",
]
