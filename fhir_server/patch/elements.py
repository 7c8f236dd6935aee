"""Element definitions (name, cardinality, type, choice group) read lazily from ``fhir.resources.R4B``."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

# pydantic fields of fhir.resources models that are not FHIR elements
_NON_ELEMENT_FIELDS = frozenset({"fhir_comments"})
_PRIMITIVE_EXTENSION_SUFFIX = "__ext"


@dataclass(frozen=True)
class ElementInfo:
    """One element of a FHIR type, as it is named in JSON."""

    json_name: str  # "deceasedBoolean"
    base_name: str  # "deceased" for a choice element, else the JSON name
    repeats: bool
    model: Any  # the fhir.resources model class of a complex element, None for a primitive

    @property
    def is_choice(self) -> bool:
        return self.json_name != self.base_name

    @property
    def type_suffix(self) -> str:
        """The type part of a choice element's name ("Boolean"); empty for other elements."""
        return self.json_name[len(self.base_name) :]


@dataclass(frozen=True)
class TypeInfo:
    """The elements of one FHIR type (resource, data type or backbone element)."""

    name: str
    elements: Mapping[str, ElementInfo]  # by JSON name
    choices: Mapping[str, tuple[ElementInfo, ...]]  # by choice base name ("deceased")

    def element(self, name: str) -> ElementInfo | None:
        return self.elements.get(name)

    def named(self, name: str) -> tuple[ElementInfo, ...]:
        """Elements a FHIRPath name selects: the element itself or every type of a choice."""
        found = self.elements.get(name)
        if found is not None:
            return (found,)
        return self.choices.get(name, ())


@lru_cache(maxsize=256)  # bounded: the type name comes from request bodies
def resource_type_info(resource_type: str) -> TypeInfo | None:
    """The type information of a resource type, or None when R4B has no such resource."""
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        return None
    return type_info(model)


@cache
def type_info(model: Any) -> TypeInfo:
    elements: dict[str, ElementInfo] = {}
    choices: dict[str, list[ElementInfo]] = {}
    for field_name, field in model.model_fields.items():
        if field_name in _NON_ELEMENT_FIELDS or field_name.endswith(_PRIMITIVE_EXTENSION_SUFFIX):
            continue
        json_name = field.alias or field_name
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        choice = extra.get("one_of_many")
        repeats, inner = _unwrap(field.annotation)
        element = ElementInfo(
            json_name=json_name,
            base_name=choice if isinstance(choice, str) else json_name,
            repeats=repeats,
            model=_complex_model(inner),
        )
        elements[json_name] = element
        if element.is_choice:
            choices.setdefault(element.base_name, []).append(element)
    return TypeInfo(
        name=model.__name__,
        elements=elements,
        choices={base: tuple(group) for base, group in choices.items()},
    )


def _unwrap(annotation: Any) -> tuple[bool, Any]:
    """(repeats, the element's own type) from an annotation like ``Optional[List[X]]``."""
    repeats = False
    while True:
        origin = typing.get_origin(annotation)
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if origin is list:
            repeats = True
            annotation = args[0]
        elif origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif args and origin is not None and len(args) == 1:  # Optional[X] / X | None
            annotation = args[0]
        else:
            return repeats, annotation


def _complex_model(inner: Any) -> Any:
    resolve = getattr(inner, "get_model_klass", None)
    return resolve() if callable(resolve) else None
