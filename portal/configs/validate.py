"""Checks a training YAML before it is stored: safe parsing, bounded size and expansion.

Values are read as LLaMA-Factory reads them: it loads YAML with OmegaConf (`hparams/parser.py`),
whose loader is SafeLoader plus a float rule for `1e-4` (a string to PyYAML), without dates
(`2024-01-01` stays a string) and refusing a key repeated in one mapping ("found duplicate
key"). The loader below copies those rules from OmegaConf 2.3/2.4 (`get_yaml_loader`), so the
portal does not depend on it; tests compare it with OmegaConf itself.

Only `yaml.SafeLoader` is used, so no tag can build Python objects. A document is composed
into nodes first and measured before anything is constructed: aliases let a few hundred bytes
describe a billion values ("billion laughs"), and composing keeps each aliased node once, so
the measure is cheap while the expansion it reports is bounded. Every problem carries the
line and column a user can jump to.
"""
import re
from dataclasses import dataclass, field

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode

from portal.configs import llamafactory, yaml_text
from portal.errors import Invalid, TooLarge
from portal.i18n import _l, gettext

MAX_DEPTH = 64  # LLaMA-Factory configs are flat; deeper nesting is a mistake or an attack
MAX_VALUES = 100_000  # values after alias expansion; real configs have a few dozen


@dataclass(frozen=True)
class Problem:
    """One reason a document is refused; `line` and `column` count from 1."""

    message: str
    line: int | None = None
    column: int | None = None
    kind: str = "yaml"
    snippet: str = ""  # the offending line, for showing under the message

    def __str__(self) -> str:
        where = gettext("line %(line)s, column %(column)s: ", line=self.line, column=self.column) if self.line else ""
        return where + self.message


class ConfigInvalid(Invalid):
    """The document cannot be a training config; `problems` say where and why."""

    status = 422

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Checked:
    text: str
    data: dict
    summary: dict
    warnings: list[str] = field(default_factory=list)


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer refuses nesting deeper than MAX_DEPTH, before Python's
    own recursion limit turns a `[[[[…` document into a RecursionError."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _checked(construct):
    """A scalar constructor whose ValueError (a 5000-digit int, the date 9999-99-99) becomes a
    YAML error at the value's line, not a 500."""
    def constructor(loader, node):
        try:
            return construct(loader, node)
        except (ValueError, OverflowError) as error:
            kind = node.tag.rsplit(":", 1)[-1]
            raise ConstructorError(None, None, f"not a valid {kind}: {error}", node.start_mark) from None
    return constructor


for _tag, _construct in (("int", yaml.SafeLoader.construct_yaml_int),
                         ("float", yaml.SafeLoader.construct_yaml_float)):
    _BoundedLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _checked(_construct))

# OmegaConf's float rule (omegaconf/_utils.py 2.3, _yaml.py 2.4): also `1e-4`, `1_000.5e3`
_BoundedLoader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"""^(?:
     [-+]?[0-9]+(?:_[0-9]+)*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9]+(?:_[0-9]+)*(?:[eE][-+]?[0-9]+)
    |\.[0-9]+(?:_[0-9]+)*(?:[eE][-+][0-9]+)?
    |[-+]?[0-9]+(?:_[0-9]+)*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X), list("-+0123456789."))
_BoundedLoader.yaml_implicit_resolvers = {  # and no dates: OmegaConf leaves them strings
    first: [(tag, rule) for tag, rule in rules if tag != "tag:yaml.org,2002:timestamp"]
    for first, rules in _BoundedLoader.yaml_implicit_resolvers.items()}


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _problem_at(node: Node, message: str, text: str, kind: str = "config") -> Problem:
    mark = node.start_mark
    return Problem(message, mark.line + 1, mark.column + 1, kind, _line(text, mark.line + 1))


def _measure(root: Node, text: str) -> None:
    """Refuse cycles and documents whose expansion exceeds MAX_VALUES or MAX_DEPTH.

    Iterative on purpose: a chain of aliases can be far deeper than the composer's nesting.
    Sizes are memoised per node, so shared (aliased) nodes cost one visit however often used.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > MAX_VALUES:
                raise ConfigInvalid([_problem_at(node, gettext("expands to more than %(count)s values (aliases "
                                                               "repeated too often)", count=MAX_VALUES), text)])
            if depth[key] > MAX_DEPTH:
                raise ConfigInvalid([_problem_at(node, gettext("expands deeper than %(count)s levels", count=MAX_DEPTH),
                                                 text)])
            continue
        if key in size:
            continue
        if key in open_nodes:  # reached again from inside itself
            raise ConfigInvalid([_problem_at(node, gettext("an alias refers to a node that contains it"), text)])
        if isinstance(node, MappingNode):
            _refuse_duplicates(node, text)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((kid, False) for kid in _children(node) if id(kid) not in size)


def _line(text: str, number: int) -> str:
    lines = text.splitlines()
    return lines[number - 1][:200] if 0 < number <= len(lines) else ""


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _yaml_problem(error: yaml.YAMLError, text: str) -> Problem:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        message = yaml_text.problem(error.problem or "invalid YAML")
        if error.context and message.startswith("but "):  # "expected a single document …, but found another"
            message = f"{error.context}, {message}"
        elif error.context:
            context_mark = error.context_mark
            where = gettext(" at line %(line)s, column %(column)s", line=context_mark.line + 1,
                            column=context_mark.column + 1) if context_mark else ""
            message += f" ({yaml_text.context(error.context)}{where})"
        return Problem(message, mark.line + 1, mark.column + 1, "yaml", _line(text, mark.line + 1))
    if isinstance(error, yaml.reader.ReaderError):
        line, column = _position(text, error.position)
        code = f"{error.character:#x}"
        return Problem(gettext("character %(code)s is not allowed in YAML", code=code), line, column, "yaml",
                       _line(text, line))
    return Problem(str(error), kind="yaml")


def decode(data: bytes | str, max_bytes: int) -> str:
    """The document as text; TooLarge over `max_bytes`, ConfigInvalid when it is not UTF-8."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise TooLarge(_l("the config is %(size)s bytes, more than PORTAL_MAX_CONFIG_BYTES allows (%(limit)s)",
                          size=len(raw), limit=max_bytes))
    if isinstance(data, str):
        return data
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        text = raw[:error.start].decode("utf-8", "replace")
        line, column = _position(text, len(text))
        raise ConfigInvalid([Problem(gettext("not valid UTF-8 text"), line, column, "encoding")]) from None


def load(text: str) -> dict:
    """Parse one YAML mapping as LLaMA-Factory will read it."""
    loader = None
    try:
        loader = _BoundedLoader(text)  # its reader already refuses control characters
        node = loader.get_single_node()
        if node is None:
            raise ConfigInvalid([Problem(gettext("the document is empty; a training config is a mapping of keys"),
                                         kind="config")])
        if not isinstance(node, MappingNode):
            message = (gettext("the document is a list; a training config is a mapping of keys (key: value lines)")
                       if isinstance(node, SequenceNode) else
                       gettext("the document is a single value; a training config is a mapping of keys "
                               "(key: value lines)"))
            raise ConfigInvalid([_problem_at(node, message, text)])
        _measure(node, text)
        data = loader.construct_document(node)
    except yaml.YAMLError as error:
        raise ConfigInvalid([_yaml_problem(error, text)]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data


def _refuse_duplicates(node: MappingNode, text: str) -> None:
    """OmegaConf refuses a plain key written twice in one mapping; so does the portal, at its line."""
    seen: dict[str, int] = {}
    for key, _value in node.value:
        if key.tag != "tag:yaml.org,2002:str":  # as OmegaConf: merge keys (<<) and non-string keys are skipped
            continue
        if key.value in seen:
            raise ConfigInvalid([_problem_at(key, gettext(
                "key %(key)s is repeated (first on line %(first)s); LLaMA-Factory's YAML reader (OmegaConf) refuses "
                "the file (\"found duplicate key\")", key=repr(key.value), first=seen[key.value]), text)])
        seen[key.value] = key.start_mark.line + 1


def check(data: bytes | str, max_bytes: int, lookup: llamafactory.DatasetLookup) -> Checked:
    """Decode, parse and measure a document; its summary and warnings when it is usable.

    `lookup(dataset_dir)` gives the dataset names LLaMA-Factory will find there (or None and why).
    """
    text = decode(data, max_bytes)
    mapping = load(text)
    return Checked(text, mapping, llamafactory.summarize(mapping), llamafactory.warnings(mapping, lookup))
