"""Reading scenario YAML as kubectl reads manifests: strictly, into JSON-like data.

PyYAML's safe loader plus what sigs.k8s.io/yaml adds on the way to JSON: a key given twice
in one mapping is an error (``key "x" already set in map``), mapping keys become text
(``1:`` is ``"1"``), and a document that expands through aliases into millions of values,
or contains itself, is refused. svcsim's own limits keep reading bounded: the file's size
(checked by the loader before reading), the values in the file once aliases are expanded
(checked on the parsed nodes, before any Python object is built) and the digits of an
integer. Every problem is one line naming document, line and column.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from sim.errors import Problem, ScenarioError
from sim.kube.validation import go_quote, one_line

__all__ = ["MAX_FILE_BYTES", "MAX_INTEGER_DIGITS", "MAX_VALUES", "json_type", "read_documents"]

#: The largest scenario file svcsim reads (10 MiB); a scenario is a few kilobytes of YAML.
MAX_FILE_BYTES = 10 * 1024 * 1024
#: Values in the whole file once YAML aliases are expanded (go-yaml refuses "excessive aliasing" too).
MAX_VALUES = 1_000_000
#: The longest integer read. 640 digits is the least CPython's int/str conversion limit can be
#: set to (sys.set_int_max_str_digits), so any integer read can also be printed in a message.
MAX_INTEGER_DIGITS = 640
_INT_TAG = "tag:yaml.org,2002:int"


def read_documents(name: str, text: str) -> list[tuple[int, int, Any]]:
    """``(number, first line, content)`` of each non-empty document of ``text``, keys as text.

    Raises
    ------
    ScenarioError
        For a syntax error, or for every duplicate key, naming file ``name``, document, line and column.
    """
    problems: list[Problem] = []
    loaded: list[tuple[int, yaml.Node, Any]] = []
    number, budget = 0, MAX_VALUES
    try:
        loader = _StrictLoader(text)
        try:
            while loader.check_node():
                number += 1  # the document being read, for messages
                node = loader.get_node()
                assert node is not None, "check_node() promised a document"
                size, distinct = _expanded_size(node)
                if size < 0 or size > budget:  # an alias to itself, a "billion laughs", or simply too much
                    where = f"document {number}, line {node.start_mark.line + 1}"
                    raise ScenarioError([Problem(name, where, "", f"YAML error: {_too_many(size, distinct)}")])
                budget -= size
                too_long = [Problem(name, *p) for p in _huge_integers(node, number)]
                if too_long:  # Python would refuse to convert them; say which field instead
                    problems.extend(too_long)
                    continue
                try:
                    loaded.append((number, node, loader.construct_document(node)))
                except ValueError as err:  # a constructor's own, such as a date like 2024-13-45
                    where = f"document {number}, line {node.start_mark.line + 1}"
                    detail = str(err).split(";")[0]
                    raise ScenarioError(
                        [Problem(name, where, "", f"YAML error: cannot read a value: {detail}")]
                    ) from None
                for mark, key, first in loader.take_duplicates():
                    where = f"document {number}, line {mark.line + 1}, column {mark.column + 1}"
                    message = f"YAML error: key {go_quote(_key_text(key))} already set in map (first at line {first})"
                    problems.append(Problem(name, where, "", message))
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        raise ScenarioError([Problem(name, *_syntax_error(text, err))]) from None
    except RecursionError:
        where = f"document {number}"
        raise ScenarioError([Problem(name, where, "", "YAML error: nested too deeply to read")]) from None
    if problems:  # last-one-wins would silently simulate something else
        raise ScenarioError(problems)
    return [(n, node.start_mark.line + 1, _string_keys(doc)) for n, node, doc in loaded if doc is not None]


def json_type(value: Any) -> str:
    """The JSON type Go's decoder names in ``cannot unmarshal <type> into ...``."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string" if isinstance(value, str) else type(value).__name__


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, noting duplicate mapping keys as kubectl's strict decoder refuses them.

    PyYAML keeps the last value silently; sigs.k8s.io/yaml says ``key "x" already set in map``.
    Keys brought in by a merge (``<<: *base``) may be overridden, as YAML intends.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._duplicates: list[tuple[yaml.Mark, Any, int]] = []

    def take_duplicates(self) -> list[tuple[yaml.Mark, Any, int]]:
        """``(mark, key, first line)`` of each duplicate key met since the last call."""
        found, self._duplicates = self._duplicates, []
        return found

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            typed = (type(key).__name__, key)  # 1 and true are different keys, though 1 == True
            try:
                seen = typed in first_line
            except TypeError:  # unhashable: the base class reports it
                continue
            if seen:
                self._duplicates.append((key_node.start_mark, key, first_line[typed]))
            else:
                first_line[typed] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _string_keys(value: Any) -> Any:
    """Mapping keys as text, as sigs.k8s.io/yaml turns YAML into JSON for kubectl (``1:`` is ``"1"``)."""
    if isinstance(value, dict):
        return {_key_text(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


def _expanded_size(root: yaml.Node) -> tuple[int, int]:
    """``(values, nodes)``: how many values a document holds once its aliases are expanded
    (-1 if an alias contains itself), and how many distinct nodes it has as written."""
    memo: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key not in memo:
            memo[key] = -1  # in progress: meeting it again below means a cycle
            children: list[yaml.Node] = []
            if isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            elif isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            sizes = [size(child) for child in children]
            memo[key] = -1 if -1 in sizes else 1 + sum(sizes)
        return memo[key]

    return size(root), len(memo)


def _too_many(size: int, distinct: int) -> str:
    """Why a document's expanded size cannot be read (see :func:`read_documents`)."""
    if size < 0:
        return "an anchor's value contains itself"
    if size > MAX_VALUES and distinct <= MAX_VALUES:
        return "document contains excessive aliasing"
    return f"the file holds more than {MAX_VALUES} values once aliases are expanded (svcsim's limit)"


def _huge_integers(root: yaml.Node, number: int) -> list[tuple[str, str, str]]:
    """``(where, field, message)`` for each integer of more than :data:`MAX_INTEGER_DIGITS` digits.

    Found on the parsed nodes, so Python never tries to convert them; ``field`` is the path to
    the value (``spec.clients[0].rate``). A node reached again through an alias is reported once.
    """
    found: list[tuple[str, str, str]] = []
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, str, bool]] = [(root, "", False)]
    while stack:
        node, path, is_key = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode) and node.tag == _INT_TAG:
            digits = _integer_digits(str(node.value))
            if digits > MAX_INTEGER_DIGITS:
                mark = node.start_mark
                where = f"document {number}, line {mark.line + 1}, column {mark.column + 1}"
                what = "a mapping key" if is_key else "a number"
                message = (
                    f"Invalid value: {what} with {digits} digits: svcsim reads integers of at most "
                    f"{MAX_INTEGER_DIGITS} digits"
                )
                found.append((where, one_line(path), message))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, f"{path}[{i}]", False) for i, child in reversed(list(enumerate(node.value))))
        elif isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                label = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                label = label if len(label) <= 64 else f"{label[:64]}..."
                stack.append((value, f"{path}.{label}" if path else label, False))
                stack.append((key, path, True))
    return found


def _integer_digits(literal: str) -> int:
    """The decimal digits of the YAML 1.1 integer ``literal``, counted without converting it
    (binary, octal, hexadecimal and sexagesimal forms are estimated from their length)."""
    text = literal.replace("_", "").lstrip("+-")
    if text.startswith(("0b", "0x")):
        per_char = math.log10(2 if text[1] == "b" else 16)
        return math.ceil((len(text) - 2) * per_char)
    if ":" in text:  # base 60: 190:20:30
        head, *rest = text.split(":")
        return len(head) + math.ceil(len(rest) * math.log10(60))
    if len(text) > 1 and text.startswith("0"):  # octal in YAML 1.1
        return math.ceil((len(text) - 1) * math.log10(8))
    return len(text)


def _syntax_error(text: str, err: yaml.YAMLError) -> tuple[str, str, str]:
    """(document, field, message) for a YAML error: which document, line and column, and why."""
    if isinstance(err, yaml.reader.ReaderError):  # a character YAML forbids, such as NUL in a binary file
        line = text.count("\n", 0, err.position) + 1
        column = err.position - (text.rfind("\n", 0, err.position) + 1) + 1
        what = f"#x{err.character:04x}" if isinstance(err.character, int) else repr(err.character)
        return f"line {line}, column {column}", "", f"YAML syntax error: unacceptable character {what}: {err.reason}"
    mark = getattr(err, "problem_mark", None)
    problem = " ".join((getattr(err, "problem", None) or str(err)).split())  # always one line
    if mark is None:
        return "", "", f"YAML syntax error: {problem}"
    context, context_mark = getattr(err, "context", None), getattr(err, "context_mark", None)
    if context and context_mark is not None and context_mark.line != mark.line:
        problem += f" ({context} that starts at line {context_mark.line + 1}, column {context_mark.column + 1})"
    starts = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.DocumentStartEvent):
                if event.start_mark is not None and event.start_mark.index > mark.index:
                    break
                starts += 1
    except yaml.YAMLError:
        pass
    where = f"document {max(starts, 1)}, line {mark.line + 1}, column {mark.column + 1}"
    return where, "", f"YAML syntax error: {problem}"
