"""MQTT topic filters: which received topic names a subscription's filter matches.

`+` matches exactly one level, `#` (last) the parent level and any below it; a filter that
starts with a wildcard does not match topics starting with `$` (`$SYS/...`), per the spec.
The filters themselves are checked where they are configured (`config/mqtt.py`).
"""

from __future__ import annotations

__all__ = ["matches"]


def matches(topic_filter: str, topic: str) -> bool:
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    want = topic_filter.split("/")
    have = topic.split("/")
    for n, level in enumerate(want):
        if level == "#":
            return True  # "a/#" matches "a" too: n == len(have) is fine
        if n >= len(have):
            return False
        if level != "+" and level != have[n]:
            return False
    return len(want) == len(have)
