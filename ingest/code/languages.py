"""What the code splitter knows about each language: which syntax nodes are units, containers, wrappers.

Node type names are tree-sitter's (grammars from ``tree-sitter-language-pack``, which ships
them inside the wheel, so parsing works offline). A language with a grammar but no entry in
:data:`SPECS` gets :func:`generic_spec`, which recognises definitions by their node type names.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COMMENTS = frozenset({"comment", "line_comment", "block_comment", "doc_comment", "documentation_comment"})


@dataclass(frozen=True)
class LanguageSpec:
    """Syntax roles of node types in one grammar.

    :param units: definitions that become their own unit (functions, methods, types).
    :param containers: definitions whose members are split out when they are units of their own
        (classes, impl blocks, namespaces); the container's symbol prefixes its members'.
    :param wrappers: nodes that wrap one definition (decorators, ``export``, ``template<>``); the
        wrapper's span is used, the inner definition gives the role and the name.
    :param transparent: nodes whose children sit at the enclosing scope (``#ifdef``, ``extern "C"``).
    :param prefixes: nodes that attach to the definition right below them (comments, attributes).
    :param scope_setters: statements that put the following siblings in a namespace
        (``namespace X;`` in C# and PHP).
    """

    units: frozenset[str]
    containers: frozenset[str] = frozenset()
    wrappers: frozenset[str] = frozenset()
    transparent: frozenset[str] = frozenset()
    prefixes: frozenset[str] = COMMENTS
    scope_setters: frozenset[str] = frozenset()


def _spec(units: str, containers: str = "", wrappers: str = "", transparent: str = "", prefixes: str = "",
          scope_setters: str = "") -> LanguageSpec:
    return LanguageSpec(units=frozenset(units.split()), containers=frozenset(containers.split()),
                        wrappers=frozenset(wrappers.split()), transparent=frozenset(transparent.split()),
                        prefixes=COMMENTS | frozenset(prefixes.split()), scope_setters=frozenset(scope_setters.split()))


_JS_UNITS = ("function_declaration generator_function_declaration method_definition function_signature "
             "abstract_method_signature interface_declaration type_alias_declaration enum_declaration")
_JS = _spec(_JS_UNITS, "class_declaration abstract_class_declaration class internal_module module",
            "export_statement ambient_declaration", prefixes="decorator")
_C_PREPROC = "preproc_if preproc_ifdef preproc_else preproc_elif preproc_elifdef"
_C = _spec("function_definition struct_specifier union_specifier enum_specifier type_definition",
           transparent=_C_PREPROC)
_CPP = _spec("function_definition enum_specifier type_definition alias_declaration concept_definition",
             "class_specifier struct_specifier union_specifier namespace_definition", "template_declaration",
             transparent=_C_PREPROC + " linkage_specification")

SPECS: dict[str, LanguageSpec] = {
    "python": _spec("function_definition", "class_definition", "decorated_definition"),
    "javascript": _JS,
    "typescript": _JS,
    "tsx": _JS,
    "java": _spec("method_declaration constructor_declaration compact_constructor_declaration "
                  "annotation_type_declaration",
                  "class_declaration interface_declaration enum_declaration record_declaration",
                  transparent="enum_body_declarations"),
    "go": _spec("function_declaration method_declaration type_declaration"),
    "rust": _spec("function_item function_signature_item struct_item enum_item union_item type_item "
                  "macro_definition", "impl_item trait_item mod_item", prefixes="attribute_item"),
    "c": _C,
    "cpp": _CPP,
    "csharp": _spec("method_declaration constructor_declaration destructor_declaration operator_declaration "
                    "conversion_operator_declaration indexer_declaration delegate_declaration enum_declaration "
                    "local_function_statement",
                    "class_declaration struct_declaration interface_declaration record_declaration "
                    "namespace_declaration", scope_setters="file_scoped_namespace_declaration"),
    "ruby": _spec("method singleton_method", "class module singleton_class"),
    "php": _spec("function_definition method_declaration",
                 "class_declaration interface_declaration trait_declaration enum_declaration namespace_definition",
                 prefixes="attribute_list", scope_setters="namespace_definition"),
}

_GENERIC_UNIT = re.compile(r"(function|method|procedure|subroutine|constructor)_?(definition|declaration|item)?$")
_GENERIC_CONTAINER = re.compile(r"^(class|interface|struct|trait|impl|module|object|namespace|protocol|extension)"
                                r"(_definition|_declaration|_item|_specifier)?$")


@functools.cache
def generic_spec(node_types: frozenset[str]) -> LanguageSpec:
    """A spec for a grammar we have no table for, from the names of its node types."""
    units = frozenset(t for t in node_types if _GENERIC_UNIT.search(t))
    containers = frozenset(t for t in node_types if _GENERIC_CONTAINER.search(t))
    return LanguageSpec(units=units - containers, containers=containers)


def spec_for(language: str, ts_language: Any) -> LanguageSpec:
    """The spec of ``language`` (tree-sitter name); unknown grammars get :func:`generic_spec`."""
    if language in SPECS:
        return SPECS[language]
    names = frozenset(ts_language.node_kind_for_id(i) for i in range(ts_language.node_kind_count)
                      if ts_language.node_kind_is_named(i))
    return generic_spec(names)


@functools.cache
def get_parser(language: str) -> Any:
    """A tree-sitter parser for ``language``, or None when no grammar is available."""
    try:
        from tree_sitter_language_pack import get_parser as pack_parser
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    try:
        return pack_parser(language)  # type: ignore[arg-type]
    except (LookupError, ValueError, RuntimeError, OSError):
        return None


# -- names -------------------------------------------------------------------
_IDENTIFIER_TYPES = frozenset({"identifier", "field_identifier", "type_identifier", "qualified_identifier",
                               "operator_name", "destructor_name", "scoped_identifier", "name", "constant",
                               "property_identifier", "namespace_identifier", "qualified_name"})
_BODY_FIELDS = ("body", "members")


def node_text(node: Any) -> str:
    """The source text of a node (UTF-8 decoded, invalid bytes replaced)."""
    return bytes(node.text or b"").decode("utf-8", errors="replace")


def clean_name(text: str) -> str:
    """A symbol component from source text: generics dropped, ``::`` and ``\\`` as dots, no spaces.

    >>> clean_name("Retry<T>::decide"), clean_name("App\\\\Core"), clean_name("operator ==")
    ('Retry.decide', 'App.Core', 'operator==')
    """
    text = re.sub(r"<[^<>]*>", "", re.sub(r"<[^<>]*>", "", text))
    text = text.replace("::", ".").replace("\\", ".")
    return re.sub(r"\s+", "", text).strip(".")


def _declarator_name(node: Any) -> str | None:
    seen = 0
    while node is not None and seen < 16:
        if node.type in _IDENTIFIER_TYPES:
            return clean_name(node_text(node))
        inner = node.child_by_field_name("declarator") or node.child_by_field_name("name")
        if inner is None:
            inner = next((c for c in node.named_children if c.type in _IDENTIFIER_TYPES), None)
        node, seen = inner, seen + 1
    return None


def definition_name(node: Any, language: str) -> str | None:
    """The name a definition node declares (``Type.method`` for Go methods), or None if anonymous."""
    kind = node.type
    if kind == "impl_item":  # Rust: `impl Trait for Type` is named after Type
        target = node.child_by_field_name("type")
        return clean_name(node_text(target)) if target is not None else None
    if kind == "method_declaration" and language == "go":
        receiver = node.child_by_field_name("receiver")
        name = node.child_by_field_name("name")
        types = re.findall(r"[A-Za-z_]\w*", re.sub(r"\[.*?\]", "", node_text(receiver))) if receiver else []
        base = node_text(name) if name is not None else None
        return f"{types[-1]}.{base}" if types and base else base
    if kind == "type_declaration":  # Go: type X struct {...}
        spec = next((c for c in node.named_children if c.type in ("type_spec", "type_alias")), None)
        return definition_name(spec, language) if spec is not None else None
    if kind in ("lexical_declaration", "variable_declaration"):
        decl = next((c for c in node.named_children if c.type == "variable_declarator"), None)
        return definition_name(decl, language) if decl is not None else None
    name = node.child_by_field_name("name")
    if name is not None:
        return clean_name(node_text(name))
    declarator = node.child_by_field_name("declarator")
    if declarator is not None:
        return _declarator_name(declarator)
    # grammars without field names (Kotlin, ...): the first identifier child
    ident = next((c for c in node.named_children if c.type in _IDENTIFIER_TYPES or c.type.endswith("identifier")),
                 None)
    return clean_name(node_text(ident)) if ident is not None else None


def body_of(node: Any) -> Any:
    """The node holding a container's members (its ``body``), or None."""
    for field in _BODY_FIELDS:
        body = node.child_by_field_name(field)
        if body is not None:
            return body
    return next((c for c in node.named_children if c.type in ("class_body", "declaration_list", "body_statement",
                                                               "field_declaration_list", "enum_body",
                                                               "interface_body", "block")), None)


def is_function_value(node: Any) -> bool:
    """True for ``const f = () => ...`` / ``var f = function ...`` / ``const C = class ...`` declarations."""
    for decl in node.named_children:
        if decl.type == "variable_declarator":
            value = decl.child_by_field_name("value")
            if value is not None and value.type in ("arrow_function", "function_expression", "function",
                                                    "generator_function", "class"):
                return True
    return False


# -- modules -----------------------------------------------------------------
_INDEX_STEMS = frozenset({"index", "mod", "lib"})  # files named after their folder (JS/TS, Rust)


def module_path(source: str) -> str:
    """Dotted module name of a source file, the first component of its symbols.

    Python files are named by their package: parent folders holding ``__init__.py`` are
    prepended when the file exists on disk (``json/decoder.py`` -> ``json.decoder``); a package's
    ``__init__.py`` is the package. Other languages use the file's stem; ``index``/``mod``/``lib``
    files take their folder's name.

    >>> module_path("src/retry_policy.py"), module_path("web/utils/index.ts"), module_path("Retry.java")
    ('retry_policy', 'utils', 'Retry')
    """
    path = Path(source)
    python = path.suffix in (".py", ".pyi")
    stem = path.name.split(".")[0] if path.suffix else path.name
    folder = path.parent.name not in ("", ".", "..")
    if folder and ((python and stem == "__init__") or (not python and stem in _INDEX_STEMS)):
        stem, path = path.parent.name, path.parent
    parts = [stem]
    if python:
        parent = path.parent
        try:
            while parent.name and (parent / "__init__.py").is_file():
                parts.insert(0, parent.name)
                parent = parent.parent
        except OSError:  # pragma: no cover - unreadable folders end the climb
            pass
    return ".".join(clean_name(p) or "_" for p in parts)
