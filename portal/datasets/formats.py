"""The record formats LLaMA-Factory reads, each with its checks and its statistics.

`check(record)` returns None for a good record (and counts it into the statistics) or the
problem in one line. It runs millions of times per file, so the common good record takes
the shortest path: plain attribute arithmetic, no per-field helper calls.
"""
from portal.i18n import marked

MAX_ERRORS = 100


def _empty(value) -> bool:
    return type(value) is not str or not value or value.isspace()


class Checker:
    name = ""
    fields: tuple[str, ...] = ()

    def __init__(self):
        self.records = 0
        self.bad = 0
        self.errors: list[dict] = []
        self.sums = dict.fromkeys(self.fields, 0)
        self.maxes = dict.fromkeys(self.fields, 0)
        self.present = dict.fromkeys(self.fields, 0)

    def error(self, line: int, message: str) -> None:
        self.bad += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"line": line, "message": message})

    def count(self, field: str, length: int) -> None:
        self.sums[field] += length
        self.present[field] += 1
        if length > self.maxes[field]:
            self.maxes[field] = length

    def stats(self) -> dict:
        fields = {f: {"avg": round(self.sums[f] / self.present[f], 1), "max": self.maxes[f], "present": self.present[f]}
                  for f in self.fields if self.present[f]}
        return {"records": self.records, "fields": fields}


class Alpaca(Checker):
    """`instruction` and `output` required; `input`, `system` strings; `history` [[q, a], …]."""
    name = "alpaca"
    fields = ("instruction", "input", "output", "system")

    def __init__(self):
        super().__init__()
        self.si = self.so = self.sn = self.mi = self.mo = self.mn = 0

    def check(self, rec):
        try:
            ins, out, inp = rec["instruction"], rec["output"], rec.get("input", "")
        except (KeyError, TypeError, AttributeError):
            return self.explain(rec)
        if type(ins) is not str or type(out) is not str or type(inp) is not str:
            return self.explain(rec)
        li, lo, ln = len(ins), len(out), len(inp)
        if not li or not lo or ins.isspace() or out.isspace():
            return self.explain(rec)
        if "system" in rec or "history" in rec:
            problem = self.extras(rec)
            if problem:
                return problem
        self.records += 1
        self.si += li
        self.so += lo
        self.sn += ln
        if li > self.mi:
            self.mi = li
        if lo > self.mo:
            self.mo = lo
        if ln > self.mn:
            self.mn = ln
        return None

    def extras(self, rec):
        system = rec.get("system")
        if system is not None:
            if type(system) is not str:
                return "system must be a string"
            self.count("system", len(system))
        history = rec.get("history")
        if history is not None and (type(history) is not list or any(
                type(turn) is not list or len(turn) != 2 or _empty(turn[0]) or _empty(turn[1]) for turn in history)):
            return "history must be a list of [question, answer] pairs of non-empty strings"
        return None

    def explain(self, rec) -> str:
        if type(rec) is not dict:
            return f"a record must be a JSON object, not {type(rec).__name__}"
        for key in ("instruction", "output"):
            if key not in rec:
                return f"missing required field {key!r}"
            if type(rec[key]) is not str:
                return f"{key} must be a string"
            if _empty(rec[key]):
                return f"empty required field {key!r}"
        return "input must be a string"

    def stats(self) -> dict:
        n = self.records
        for field, total, top in (("instruction", self.si, self.mi), ("input", self.sn, self.mn),
                                  ("output", self.so, self.mo)):
            self.sums[field], self.maxes[field], self.present[field] = total, top, n
        return super().stats()


class Chat(Checker):
    """Conversations: an optional leading system turn, then user and assistant turns alternating."""
    fields = ("turns", "system", "user", "assistant")
    key = role_key = content_key = system_role = ""
    user_roles: frozenset = frozenset()
    assistant_roles: frozenset = frozenset()

    def __init__(self):
        super().__init__()
        self.roles: set[str] = set()

    def check(self, rec):
        turns = rec.get(self.key) if type(rec) is dict else None
        if type(turns) is not list or not turns:
            return (f"{self.key} must be a non-empty list" if type(rec) is dict
                    else f"a record must be a JSON object, not {type(rec).__name__}")
        key, role_key, content_key = self.key, self.role_key, self.content_key
        first = turns[0]
        start = 1 if type(first) is dict and first.get(role_key) == self.system_role else 0
        if start:
            if _empty(first.get(content_key)):
                return f"{key}[0]: empty system {content_key}"
        if len(turns) == start:
            return f"{key} has no user turn"
        user_chars = assistant_chars = 0
        for index in range(start, len(turns)):
            turn = turns[index]
            if type(turn) is not dict:
                return f"{key}[{index}] must be an object with {role_key!r} and {content_key!r}"
            role = turn.get(role_key)
            user = (index - start) % 2 == 0
            if role not in (self.user_roles if user else self.assistant_roles):
                wanted = self.user_roles if user else self.assistant_roles
                return f"{key}[{index}]: wrong role order: {role!r} where {'/'.join(sorted(wanted))} belongs"
            content = turn.get(content_key)
            if type(content) is not str or not content or content.isspace():
                return f"{key}[{index}]: empty {content_key}"
            self.roles.add(role)
            if user:
                user_chars = max(user_chars, len(content))
            else:
                assistant_chars = max(assistant_chars, len(content))
        if (len(turns) - start) % 2:
            return f"{key} must end with an assistant turn ({'/'.join(sorted(self.assistant_roles))})"
        self.records += 1
        self.count("turns", len(turns) - start)
        self.count("user", user_chars)
        self.count("assistant", assistant_chars)
        if start:
            self.count("system", len(first[content_key]))
        return None

    def stats(self) -> dict:
        stats = super().stats()
        stats["roles"] = sorted(self.roles)
        stats["note"] = marked("user/assistant: the longest turn of each conversation, in characters")
        return stats


class ShareGPT(Chat):
    name = "sharegpt"
    key, role_key, content_key, system_role = "conversations", "from", "value", "system"
    user_roles = frozenset({"human", "user", "observation"})
    assistant_roles = frozenset({"gpt", "assistant", "function_call"})


class OpenAI(Chat):
    name = "openai"
    key, role_key, content_key, system_role = "messages", "role", "content", "system"
    user_roles = frozenset({"user", "tool"})
    assistant_roles = frozenset({"assistant"})


class Text(Checker):
    """Pretraining text: one non-empty `text` per record (or per line of a .txt file)."""
    name = "text"
    fields = ("text",)

    def check(self, rec):
        text = rec.get("text") if type(rec) is dict else rec if type(rec) is str else None
        if type(text) is not str or not text or text.isspace():
            return "empty required field 'text'" if type(rec) in (dict, str) else "a record must be a JSON object"
        self.records += 1
        self.count("text", len(text))
        return None


FORMATS = {c.name: c for c in (Alpaca, ShareGPT, OpenAI, Text)}


def detect(keys) -> str | None:
    """The format a record's (or CSV header's) keys say, or None."""
    keys = set(keys)
    if "conversations" in keys:
        return "sharegpt"
    if "messages" in keys:
        return "openai"
    if "instruction" in keys or {"input", "output"} <= keys:
        return "alpaca"
    if "text" in keys:
        return "text"
    return None
