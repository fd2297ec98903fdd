"""The one YAML reader for configuration (files under ``regions/`` and uploads), bounded.

YAML aliases let a 400-byte document stand for billions of nodes: nothing in the text
is large, but walking or validating what it describes never ends (a server froze for
53 s and 1.8 GB on seven levels of nested aliases). Aliases stay allowed (a planner may
reuse a block of windows), but what they add is bounded, a document nested deeper than
``MAX_DEPTH`` or holding an alias to its own ancestor is refused, and all of it is
checked on the composed nodes, before anything is constructed, walked or validated.

libyaml does the parsing (several times faster than pure Python, and it refuses deep
nesting itself); the dialect is PyYAML's safe loader with three changes that stop
silent misreadings: ``17:00`` stays text (YAML 1.1 reads it as 1020, base 60),
numbers with a leading ``0`` or ``+`` stay text (so ``0031612345678`` is not read as
an octal number) and dates stay text (the schemas parse them as Amsterdam time).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

# Nesting of mappings and lists; a configuration needs about eight.
MAX_DEPTH = 32
# Nodes that aliases may add to those written out in the document.
MAX_ALIAS_NODES = 100_000


class ConfigLoader(yaml.CSafeLoader):
    """Safe loading without the YAML 1.1 readings that silently change planners' text."""


_INT, _STAMP = "tag:yaml.org,2002:int", "tag:yaml.org,2002:timestamp"
ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _STAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ConfigLoader.add_implicit_resolver(_INT, re.compile(r"^-?(?:0|[1-9][0-9_]*)$"), list("-0123456789"))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def unbounded(root: yaml.Node) -> str | None:
    """Why the document under ``root`` is refused (a sentence for the planner), or None.

    Linear in the nodes written out, however far the aliases would expand: each
    distinct node is sized once, from the sizes of its children.
    """
    distinct: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) not in distinct:
            distinct.add(id(node))
            pending.extend(_children(node))
    cap = len(distinct) + MAX_ALIAS_NODES
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    open_: set[int] = set()  # on the path from the root: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        kids = _children(node)
        if finished:
            open_.discard(key)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            height[key] = 1 + max((height[id(k)] for k in kids), default=0)
            line = node.start_mark.line + 1
            if height[key] > MAX_DEPTH + 1:
                return f"nested deeper than {MAX_DEPTH} levels (line {line})"
            if size[key] > cap:
                return (
                    f"its aliases (*name) stand for more than {MAX_ALIAS_NODES} extra "
                    f"values (line {line}); write the entries out, or use fewer aliases"
                )
            continue
        if key in size:
            continue
        if key in open_:
            return f"an alias refers to a block that contains it (line {node.start_mark.line + 1})"
        open_.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in size)
    return None


def nul_path(data: Any) -> str | None:
    """Where a text (or key) in loaded data holds a NUL character, as ``people[3].name``.

    PostgreSQL cannot store NUL in text; YAML can spell it (``"\\0"``), and so can JSON.
    """
    stack: list[tuple[str, Any]] = [("", data)]
    seen: set[int] = set()  # aliased blocks are looked at once
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path
        elif isinstance(value, bytes):  # a !!binary value
            if b"\x00" in value:
                return path
        elif isinstance(value, dict | list) and id(value) not in seen:
            seen.add(id(value))
            if isinstance(value, dict):
                for key, item in value.items():
                    sub = f"{path}.{key}" if path else str(key)
                    if isinstance(key, str) and "\x00" in key:
                        return sub.replace("\x00", "\\0")
                    stack.append((sub, item))
            else:
                stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None
