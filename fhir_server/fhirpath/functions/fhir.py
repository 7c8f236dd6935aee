"""The FHIR additions to FHIRPath (FHIR R4B fhirpath.html section 2.9.1): extension(), hasValue(),
getValue(), resolve(), memberOf(), conformsTo(), subsumes(), subsumedBy(), htmlChecks().

Where an answer needs knowledge the evaluation does not have (a value set we cannot expand, a
profile we do not know), the function raises an ``unsupported`` error rather than returning
empty: empty would read as "false" in an invariant and turn "cannot tell" into a violation.
"""

from __future__ import annotations

from typing import Any

from fhir_server.fhirpath.environment import Env
from fhir_server.fhirpath.errors import FhirPathError
from fhir_server.fhirpath.functions.base import VALUE, FunctionDef, singleton, string_argument
from fhir_server.fhirpath.model import SYSTEM_TYPE_OF_PRIMITIVE
from fhir_server.fhirpath.narrative import html_checks
from fhir_server.fhirpath.navigation import navigate
from fhir_server.fhirpath.nodes import Node, system_value


def _extension(env: Env, focus: list[Any], url: list[Any]) -> list[Any]:
    wanted = string_argument(url, "extension() url")
    if wanted is None:
        return []
    return [
        extension
        for extension in navigate(env.model, focus, "extension")
        if type(extension) is Node
        and isinstance(extension.data, dict)
        and extension.data.get("url") == wanted
    ]


def _is_primitive_with_value(item: Any) -> bool:
    if type(item) is not Node:
        return item is not None
    return item.type in SYSTEM_TYPE_OF_PRIMITIVE and item.data is not None and not isinstance(item.data, dict)


def _has_value(env: Env, focus: list[Any]) -> list[Any]:
    return [len(focus) == 1 and _is_primitive_with_value(focus[0])]


def _get_value(env: Env, focus: list[Any]) -> list[Any]:
    if len(focus) != 1 or not _is_primitive_with_value(focus[0]):
        return []
    return [system_value(focus[0])]


def _reference_text(item: Any) -> str | None:
    if type(item) is Node and isinstance(item.data, dict):
        reference = item.data.get("reference")
        return reference if isinstance(reference, str) else None
    value = system_value(item)
    return value if isinstance(value, str) else None


def _resolve(env: Env, focus: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in focus:
        reference = _reference_text(item)
        if reference is None:
            continue
        resolved = env.services.resolve(reference, env)
        if resolved is not None:
            out.append(resolved)
    return out


def _member_of(env: Env, focus: list[Any], value_set: list[Any]) -> list[Any]:
    url = string_argument(value_set, "memberOf() value set")
    if not focus or url is None:
        return []
    if len(focus) > 1:
        raise FhirPathError("execution", "memberOf() on more than one item")
    item = focus[0]
    value = item.data if type(item) is Node and isinstance(item.data, dict) else system_value(item)
    answer = env.services.member_of(value, url)
    if answer is None:
        raise FhirPathError("unsupported", f"cannot check membership of value set {url}")
    return [answer]


def _conforms_to(env: Env, focus: list[Any], profile: list[Any]) -> list[Any]:
    url = string_argument(profile, "conformsTo() profile")
    if not focus or url is None:
        return []
    if len(focus) > 1:
        raise FhirPathError("execution", "conformsTo() on more than one item")
    item = focus[0]
    if type(item) is not Node:
        return [False]
    answer = env.services.conforms_to(item, url, env)
    if answer is None:
        raise FhirPathError("unsupported", f"cannot check conformance to {url}")
    return [answer]


def _subsumption(direction: int) -> Any:
    def fn(env: Env, focus: list[Any], other: list[Any]) -> list[Any]:
        mine, theirs = singleton(focus), singleton(other, "the argument")
        if mine is None or theirs is None:
            return []
        a, b = _coding(mine), _coding(theirs)
        if a is None or b is None or a[0] != b[0]:
            return [False]
        system, code = a
        parent, child = (code, b[1]) if direction > 0 else (b[1], code)
        answer = env.services.subsumes(system, parent, child)
        if answer is None:
            raise FhirPathError("unsupported", f"cannot check subsumption in {system}")
        return [answer]

    return fn


def _coding(value: Any) -> tuple[str, str] | None:
    data = value.data if type(value) is Node else value
    if isinstance(data, dict):
        if isinstance(data.get("coding"), list) and data["coding"]:
            data = data["coding"][0]
        system, code = data.get("system"), data.get("code")
        if isinstance(system, str) and isinstance(code, str):
            return system, code
    return None


def _html_checks(env: Env, focus: list[Any]) -> list[Any]:
    return [html_checks(focus)]


FUNCTIONS: dict[str, FunctionDef] = {
    "extension": FunctionDef(_extension, (VALUE,), result="Extension"),
    "hasValue": FunctionDef(_has_value),
    "getValue": FunctionDef(_get_value),
    "resolve": FunctionDef(_resolve),
    "memberOf": FunctionDef(_member_of, (VALUE,)),
    "conformsTo": FunctionDef(_conforms_to, (VALUE,)),
    "subsumes": FunctionDef(_subsumption(1), (VALUE,)),
    "subsumedBy": FunctionDef(_subsumption(-1), (VALUE,)),
    "htmlChecks": FunctionDef(_html_checks),
}
