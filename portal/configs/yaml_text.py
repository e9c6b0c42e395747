"""PyYAML's problem and context texts in the reader's language.

PyYAML writes its messages in English with the offending token inside. The ones a person
editing a training config meets are catalog entries here, with PyYAML's own words as their
English (what people search for); the translations explain them. Any other text stays as
PyYAML wrote it, still placed at its line and column.
"""
import re

from portal.i18n import _l

PROBLEMS = [
    (re.compile(r"^mapping values are not allowed here$"), _l("mapping values are not allowed here")),
    (re.compile(r"^expected <block end>, but found (?P<token>.+)$"), _l("expected <block end>, but found %(token)s")),
    (re.compile(r"^found unexpected end of stream$"), _l("found unexpected end of stream")),
    (re.compile(r"^found character (?P<token>.+) that cannot start any token$"),
     _l("found character %(token)s that cannot start any token")),
    (re.compile(r"^found undefined alias (?P<token>.+)$"), _l("found undefined alias %(token)s")),
    (re.compile(r"^expected ',' or '(?P<close>[\]}])', but got (?P<token>.+)$"),
     _l("expected ',' or '%(close)s', but got %(token)s")),
    (re.compile(r"^found unknown escape character (?P<token>.+)$"), _l("found unknown escape character %(token)s")),
    (re.compile(r"^could not find expected ':'$"), _l("could not find expected ':'")),
    (re.compile(r"^could not determine a constructor for the tag (?P<token>.+)$"),
     _l("could not determine a constructor for the tag %(token)s")),
]
CONTEXTS = {
    "while parsing a block mapping": _l("while parsing a block mapping"),
    "while scanning a quoted scalar": _l("while scanning a quoted scalar"),
    "while scanning a double-quoted scalar": _l("while scanning a double-quoted scalar"),
    "while scanning a simple key": _l("while scanning a simple key"),
    "while parsing a flow sequence": _l("while parsing a flow sequence"),
    "while parsing a flow mapping": _l("while parsing a flow mapping"),
    "while scanning for the next token": _l("while scanning for the next token"),
}


def problem(text: str) -> str:
    """PyYAML's `problem` in the reader's words, its token kept as PyYAML quoted it."""
    for pattern, words in PROBLEMS:
        found = pattern.match(text)
        if found:
            return str(words) % found.groupdict() if found.groupdict() else str(words)
    return text


def context(text: str) -> str:
    """PyYAML's `context` (where the construct began) in the reader's words."""
    return str(CONTEXTS.get(text, text))
