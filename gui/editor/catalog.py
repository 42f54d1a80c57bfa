"""What can be put on the canvas: every registered block, and the groups the presets are made of.

A preset's transformer layer is offered like a block ("Transformer layer (LLaMA)"): inserting it
pastes the whole group, so a user can start from it and open it to change what is inside.
"""

import functools
import re
from dataclasses import dataclass, field

from workbench.core.blocks import all_blocks
from workbench.core.graph import GraphFileError
from workbench.core.graph_io import read_json
from workbench.core.project import ASSETS

PRESETS = ASSETS / "presets"
PRESET_CATEGORY = "Preset groups"


@dataclass(frozen=True)
class CatalogEntry:
    key: str  # 'block:attention.self' or 'preset:llama-tiny/layers': what a drag carries
    title: str
    category: str
    description: str
    paper: str = ""
    type_id: str = ""  # a block's type; empty for a preset group
    fragment: dict = field(default_factory=dict, compare=False)  # a preset group, as core.fragments pastes it

    def tooltip(self) -> str:
        return f"{self.description}\n{self.paper}" if self.paper else self.description


def block_entries() -> list[CatalogEntry]:
    return [CatalogEntry(f"block:{b.type_id}", b.title, b.category, _first_sentence(b.description), b.paper,
                         b.type_id) for b in all_blocks()]


@functools.cache
def preset_entries() -> tuple[CatalogEntry, ...]:
    entries = []
    for path in sorted(PRESETS.glob("*.json")):
        try:
            project = read_json(path)
        except GraphFileError:
            continue  # a broken preset is reported when it is opened, not in the palette
        family = re.sub(r"^Tiny |\s*\(.*\)$", "", str(project.get("name", path.stem)))
        for group in project.get("graph", {}).get("groups", []):
            inside = [n for n in group.get("nodes", []) if not n.get("type", "").startswith("group.")]
            repeat = group.get("repeat", 1)
            description = (f"The {group.get('title', 'group').lower()} of the {family} preset: {len(inside)} blocks"
                           + (f", repeated × {repeat}." if repeat > 1 else "."))
            entries.append(CatalogEntry(f"preset:{path.stem}/{group['id']}", f"{group.get('title')} ({family})",
                                        PRESET_CATEGORY, description,
                                        fragment={"nodes": [], "groups": [group], "edges": []}))
    return tuple(entries)


def all_entries() -> list[CatalogEntry]:
    return block_entries() + list(preset_entries())


def entry_by_key(key: str) -> CatalogEntry | None:
    return next((entry for entry in all_entries() if entry.key == key), None)


def search(entries: list[CatalogEntry], text: str) -> list[CatalogEntry]:
    """Entries matching every word of `text`, best first: title starts with it, then a title word
    does, then the title, type, category or description contains it."""
    words = text.lower().split()
    if not words:
        return list(entries)
    ranked = []
    for index, entry in enumerate(entries):
        title = entry.title.lower()
        haystack = " ".join((title, entry.type_id, entry.category, entry.description)).lower()
        if not all(word in haystack for word in words):
            continue
        if title.startswith(text.lower().strip()):
            rank = 0
        elif any(part.startswith(words[0]) for part in re.split(r"[\s(\-]+", title)):
            rank = 1
        else:
            rank = 2 if words[0] in title else 3
        ranked.append((rank, index, entry))
    return [entry for _, _, entry in sorted(ranked, key=lambda r: r[:2])]


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?)[.;](\s|$)", text)
    return f"{match.group(1)}." if match else text
