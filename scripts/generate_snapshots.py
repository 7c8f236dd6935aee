"""Generate the ``snapshot`` of every StructureDefinition in ``profiles/`` from its ``differential``.

The snapshots are built from the official R4B core StructureDefinitions (CC0), which this script
reads from the unpacked npm package ``hl7.fhir.r4b.core@4.3.0``. Get it once with::

    mkdir -p /tmp/r4b && cd /tmp/r4b && npm pack hl7.fhir.r4b.core@4.3.0
    tar xzf hl7.fhir.r4b.core-4.3.0.tgz      # unpacks into /tmp/r4b/package

then run, from the repository root::

    uv run python scripts/generate_snapshots.py --core /tmp/r4b/package

(``--core`` defaults to ``$FHIR_R4B_CORE`` or ``/tmp/r4b/package``). The result is written back into
each ``profiles/StructureDefinition-*.json`` file and committed, so nothing needs npm at run time.

What the generator does (the subset of the FHIR snapshot algorithm our profiles use):
- starts from the base definition's snapshot (a core type, or another profile in ``profiles/``);
- merges each differential element onto the snapshot element with the same id (constraints are
  appended, other properties replace the base's);
- creates slices (``path:sliceName``) after the sliced element and its earlier slices;
- expands a complex data type in place (from the type's own snapshot) when the differential
  constrains an element below it, e.g. ``Media.content.contentType``.
Element ``mapping`` lists are dropped to keep the files small.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

Element = dict[str, Any]
StructureDefinition = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILES_DIR = REPO_ROOT / "profiles"
CORE_PREFIX = "http://hl7.org/fhir/StructureDefinition/"
# Properties whose differential value is added to the base's instead of replacing it.
APPENDED_PROPERTIES = ("constraint", "condition")
DROPPED_PROPERTIES = ("mapping",)


def default_core_dir() -> Path:
    return Path(os.environ.get("FHIR_R4B_CORE", "/tmp/r4b/package"))


class CoreDefinitions:
    """Lazy access to the core StructureDefinitions of the unpacked npm package."""

    def __init__(self, core_dir: Path) -> None:
        if not (core_dir / "StructureDefinition-Patient.json").is_file():
            raise SystemExit(
                f"R4B core package not found in {core_dir}; see this script's docstring for `npm pack`."
            )
        self._dir = core_dir
        self._cache: dict[str, StructureDefinition] = {}

    def by_url(self, url: str) -> StructureDefinition:
        if url not in self._cache:
            name = url.removeprefix(CORE_PREFIX)
            path = self._dir / f"StructureDefinition-{name}.json"
            if not url.startswith(CORE_PREFIX) or not path.is_file():
                raise KeyError(url)
            self._cache[url] = json.loads(path.read_text(encoding="utf-8"))
        return self._cache[url]


class SnapshotBuilder:
    """Builds snapshots; profiles may derive from core definitions or from each other."""

    def __init__(self, core: CoreDefinitions, profiles: dict[str, StructureDefinition]) -> None:
        self._core = core
        self._profiles = profiles
        self._done: dict[str, list[Element]] = {}

    def definition(self, url: str) -> StructureDefinition:
        return self._profiles[url] if url in self._profiles else self._core.by_url(url)

    def snapshot_of(self, url: str) -> list[Element]:
        if url in self._profiles:
            if url not in self._done:
                self._done[url] = self.build(self._profiles[url])
            return self._done[url]
        return list(self._core.by_url(url)["snapshot"]["element"])

    def build(self, profile: StructureDefinition) -> list[Element]:
        elements = [_clean(element) for element in copy.deepcopy(self.snapshot_of(profile["baseDefinition"]))]
        for diff in profile["differential"]["element"]:
            index = self._locate(elements, diff["id"])
            _merge(elements[index], diff, source=profile["url"])
        _check_order(elements)
        return elements

    def _locate(self, elements: list[Element], element_id: str) -> int:
        """Index of the element with this id, creating slices and expanding data types as needed."""
        for index, element in enumerate(elements):
            if element["id"] == element_id:
                return index
        parent_id, _, last = element_id.rpartition(".")
        if ":" in last:
            return self._add_slice(elements, parent_id, last)
        if not parent_id:
            raise ValueError(f"differential element {element_id} has no base")
        parent_index = self._locate(elements, parent_id)
        self._expand_type(elements, parent_index)
        for index, element in enumerate(elements):
            if element["id"] == element_id:
                return index
        raise ValueError(f"differential element {element_id} is not in the base definition")

    def _add_slice(self, elements: list[Element], parent_id: str, last: str) -> int:
        name, _, slice_name = last.partition(":")
        sliced_id = f"{parent_id}.{name}" if parent_id else name
        sliced_index = self._locate(elements, sliced_id)
        end = _subtree_end(elements, sliced_index, include_slices=True)
        new = copy.deepcopy(elements[sliced_index])
        new.pop("slicing", None)
        new["id"] = f"{sliced_id}:{slice_name}"
        new["sliceName"] = slice_name
        new["min"] = 0
        elements.insert(end, new)
        return end

    def _expand_type(self, elements: list[Element], index: int) -> None:
        """Insert the children of a complex data type under the element at ``index``."""
        element = elements[index]
        if _subtree_end(elements, index, include_slices=False) != index + 1:
            return  # already has children
        types = element.get("type", [])
        if len(types) != 1:
            raise ValueError(f"cannot expand {element['id']}: needs exactly one type")
        type_ = types[0]
        url = (type_.get("profile") or [CORE_PREFIX + type_["code"]])[0]
        type_elements = self.snapshot_of(url)
        root_id, root_path = type_elements[0]["id"], type_elements[0]["path"]
        children = []
        for child in type_elements[1:]:
            new = _clean(copy.deepcopy(child))
            new["id"] = element["id"] + new["id"][len(root_id) :]
            new["path"] = element["path"] + new["path"][len(root_path) :]
            children.append(new)
        elements[index + 1 : index + 1] = children


def _clean(element: Element) -> Element:
    for key in DROPPED_PROPERTIES:
        element.pop(key, None)
    return element


def _is_below(element: Element, ancestor: Element, *, include_slices: bool) -> bool:
    own, top = element["id"], ancestor["id"]
    if own.startswith(top + "."):
        return True
    return include_slices and own.startswith(top + ":")


def _subtree_end(elements: list[Element], index: int, *, include_slices: bool) -> int:
    end = index + 1
    while end < len(elements) and _is_below(elements[end], elements[index], include_slices=include_slices):
        end += 1
    return end


def _merge(target: Element, diff: Element, *, source: str) -> None:
    for key, value in diff.items():
        if key in ("id", "path"):
            continue
        if key in APPENDED_PROPERTIES:
            existing = target.setdefault(key, [])
            for item in value:
                added = dict(item, source=source) if key == "constraint" and "source" not in item else item
                if added not in existing:
                    existing.append(added)
        else:
            if key.startswith(("fixed", "pattern")):
                for old in [k for k in target if k.startswith(("fixed", "pattern"))]:
                    del target[old]
            target[key] = copy.deepcopy(value)


def _check_order(elements: list[Element]) -> None:
    seen: set[str] = set()
    for element in elements:
        parent = element["id"].rpartition(".")[0]
        if parent and parent not in seen:
            raise ValueError(f"snapshot element {element['id']} comes before its parent")
        seen.add(element["id"])


def load_profiles(directory: Path) -> dict[str, tuple[Path, StructureDefinition]]:
    found: dict[str, tuple[Path, StructureDefinition]] = {}
    for path in sorted(directory.glob("StructureDefinition-*.json")):
        definition = json.loads(path.read_text(encoding="utf-8"))
        if "differential" in definition:
            found[definition["url"]] = (path, definition)
    return found


def with_snapshot(definition: StructureDefinition, snapshot: list[Element]) -> StructureDefinition:
    """The definition with ``snapshot`` placed just before ``differential`` (FHIR's element order)."""
    ordered: StructureDefinition = {}
    for key, value in definition.items():
        if key == "snapshot":
            continue
        if key == "differential":
            ordered["snapshot"] = {"element": snapshot}
        ordered[key] = value
    return ordered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--core", type=Path, default=default_core_dir(), help="unpacked R4B core package")
    parser.add_argument("--profiles", type=Path, default=PROFILES_DIR, help="folder of profile JSON files")
    parser.add_argument("--check", action="store_true", help="fail if a committed snapshot is out of date")
    args = parser.parse_args(argv)
    found = load_profiles(args.profiles)
    builder = SnapshotBuilder(CoreDefinitions(args.core), {url: sd for url, (_, sd) in found.items()})
    stale = []
    for url, (path, definition) in found.items():
        updated = with_snapshot(definition, builder.snapshot_of(url))
        text = json.dumps(updated, indent=2, ensure_ascii=False) + "\n"
        if path.read_text(encoding="utf-8") != text:
            stale.append(path.name)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    verb = "out of date" if args.check else "written"
    print(f"{len(found)} profiles, {len(stale)} snapshots {verb}: {', '.join(stale) or '-'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
