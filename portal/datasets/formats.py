"""The record formats LLaMA-Factory reads, each with its checks and its statistics.

`check(record)` returns None for a good record (and counts it into the statistics) or the
problem in one line. It runs millions of times per file, so the common good record takes
the shortest path: plain attribute arithmetic, no per-field helper calls.
"""
import orjson

from portal.i18n import N_, marked, said

MAX_ERRORS = 100
# top-level columns a file may or may not have; `stats()["columns"]` lists those it has, and
# only those are named in its dataset_info.json entry
OPTIONAL_COLUMNS = ("input", "system", "history", "tools")


def _empty(value) -> bool:
    return type(value) is not str or not value or value.isspace()



def not_an_object(rec) -> dict:
    return N_("a record must be a JSON object, not %(type)s", type=type(rec).__name__)

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

    def error(self, line: int, message) -> None:
        """A bad record: `message` (an N_() message) is kept in English and for the reader's language."""
        self.bad += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"line": line, **said(message)})

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
    """`instruction` and `output` required; `input`, `system` strings; `history` [[q, a], …].

    `input` is optional: LLaMA-Factory indexes every column its entry names, so a file without
    one must not have it registered, and its statistics must not count it present.
    """
    name = "alpaca"
    fields = ("instruction", "input", "output", "system", "history")

    def __init__(self):
        super().__init__()
        self.si = self.so = self.sn = self.mi = self.mo = self.mn = self.pn = 0

    def check(self, rec):
        try:
            ins, out, inp = rec["instruction"], rec["output"], rec.get("input")
        except (KeyError, TypeError, AttributeError):
            return self.explain(rec)
        if type(ins) is not str or type(out) is not str or (inp is not None and type(inp) is not str):
            return self.explain(rec)
        li, lo = len(ins), len(out)
        if not li or not lo or ins.isspace() or out.isspace():
            return self.explain(rec)
        if "system" in rec or "history" in rec:
            problem = self.extras(rec)
            if problem:
                return problem
        self.records += 1
        self.si += li
        self.so += lo
        if li > self.mi:
            self.mi = li
        if lo > self.mo:
            self.mo = lo
        if inp is not None:
            ln = len(inp)
            self.pn += 1
            self.sn += ln
            if ln > self.mn:
                self.mn = ln
        return None

    def extras(self, rec):
        system = rec.get("system")
        if system is not None:
            if type(system) is not str:
                return N_("system must be a string")
            self.count("system", len(system))
        history = rec.get("history")
        if history is not None:
            if type(history) is not list or any(
                    type(turn) is not list or len(turn) != 2 or _empty(turn[0]) or _empty(turn[1]) for turn in history):
                return N_("history must be a list of [question, answer] pairs of non-empty strings")
            self.count("history", len(history))
        return None

    def explain(self, rec) -> str:
        if type(rec) is not dict:
            return not_an_object(rec)
        for key in ("instruction", "output"):
            if key not in rec:
                return N_("missing required field %(key)s", key=repr(key))
            if type(rec[key]) is not str:
                return N_("%(key)s must be a string", key=key)
            if _empty(rec[key]):
                return N_("empty required field %(key)s", key=repr(key))
        return N_("input must be a string")

    def stats(self) -> dict:
        n = self.records
        for field, total, top, present in (("instruction", self.si, self.mi, n), ("input", self.sn, self.mn, self.pn),
                                           ("output", self.so, self.mo, n)):
            self.sums[field], self.maxes[field], self.present[field] = total, top, present
        stats = super().stats()
        stats["columns"] = [f for f in OPTIONAL_COLUMNS if f in stats["fields"]]
        return stats


class Chat(Checker):
    """Conversations: an optional leading system turn, then user and assistant turns alternating.

    A dataset_info.json entry names ONE user word and ONE assistant word, and LLaMA-Factory
    skips every example whose roles differ ("Invalid role tag"), so a file keeps to the words
    it used first (`human` or `user`, `gpt` or `assistant`), and its entry names those.
    """
    fields = ("turns", "system", "user", "assistant", "tools")
    key = role_key = content_key = system_role = ""
    user_roles: frozenset = frozenset()
    assistant_roles: frozenset = frozenset()
    synonyms: tuple[frozenset, ...] = ()  # role words of which a file may use only one

    def __init__(self):
        super().__init__()
        self.roles: set[str] = set()
        self.columns: set[str] = set()

    def first_use(self, role: str) -> str | None:
        """A role word seen for the first time: the problem when the file already uses a synonym."""
        for words in self.synonyms:
            if role in words:
                used = sorted(words & self.roles)
                if used:
                    return N_("role %(role)s where this file uses %(used)s: LLaMA-Factory reads one word per role "
                              "and skips the examples with the other", role=repr(role), used=repr(used[0]))
        self.roles.add(role)
        return None

    def extras(self, rec) -> str | None:
        """Top-level `system` and `tools` columns: checked, and named in the entry when present.

        LLaMA-Factory reads `tools` as a JSON string (data/formatter.py ToolFormatter json.loads it);
        an OpenAI-style list of tools is kept in the file but never named, as it would not load.
        """
        system, tools = rec.get("system"), rec.get("tools")
        if system is not None:
            if type(system) is not str:
                return N_("system must be a string")
            self.columns.add("system")
        if tools is not None and type(tools) is not list:
            if type(tools) is not str:
                return N_("tools must be a string holding the tool descriptions as JSON")
            if tools:
                try:
                    orjson.loads(tools)
                except orjson.JSONDecodeError:
                    return N_("tools must be a string holding the tool descriptions as JSON")
                self.count("tools", len(tools))
            self.columns.add("tools")
        return None

    def check(self, rec):
        turns = rec.get(self.key) if type(rec) is dict else None
        if type(turns) is not list or not turns:
            return N_("%(key)s must be a non-empty list", key=self.key) if type(rec) is dict else not_an_object(rec)
        key, role_key, content_key = self.key, self.role_key, self.content_key
        first = turns[0]
        start = 1 if type(first) is dict and first.get(role_key) == self.system_role else 0
        if start:
            if _empty(first.get(content_key)):
                return N_("%(key)s[0]: empty system %(content)s", key=key, content=content_key)
        if len(turns) == start:
            return N_("%(key)s has no user turn", key=key)
        user_chars = assistant_chars = 0
        for index in range(start, len(turns)):
            turn = turns[index]
            if type(turn) is not dict:
                return N_("%(key)s[%(index)s] must be an object with %(role)s and %(content)s", key=key, index=index,
                          role=repr(role_key), content=repr(content_key))
            role = turn.get(role_key)
            user = (index - start) % 2 == 0
            if role not in (self.user_roles if user else self.assistant_roles):
                wanted = self.user_roles if user else self.assistant_roles
                return N_("%(key)s[%(index)s]: wrong role order: %(role)s where %(wanted)s belongs", key=key,
                          index=index, role=repr(role), wanted="/".join(sorted(wanted)))
            content = turn.get(content_key)
            if type(content) is not str or not content or content.isspace():
                return N_("%(key)s[%(index)s]: empty %(content)s", key=key, index=index, content=content_key)
            if role not in self.roles:
                problem = self.first_use(role)
                if problem:
                    return N_("%(key)s[%(index)s]: %(problem)s", key=key, index=index, problem=problem)
            if user:
                user_chars = max(user_chars, len(content))
            else:
                assistant_chars = max(assistant_chars, len(content))
        if (len(turns) - start) % 2:
            return N_("%(key)s must end with an assistant turn (%(roles)s)", key=key,
                      roles="/".join(sorted(self.assistant_roles)))
        if "system" in rec or "tools" in rec:
            problem = self.extras(rec)
            if problem:
                return problem
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
        stats["columns"] = [c for c in OPTIONAL_COLUMNS if c in self.columns]
        stats["note"] = marked("user/assistant: the longest turn of each conversation, in characters")
        return stats


class ShareGPT(Chat):
    name = "sharegpt"
    key, role_key, content_key, system_role = "conversations", "from", "value", "system"
    user_roles = frozenset({"human", "user", "observation"})
    assistant_roles = frozenset({"gpt", "assistant", "function_call"})
    synonyms = (frozenset({"human", "user"}), frozenset({"gpt", "assistant"}))


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
            return N_("empty required field %(key)s", key="'text'") if type(rec) in (dict, str) else not_an_object(rec)
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
