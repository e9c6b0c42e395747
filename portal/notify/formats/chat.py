"""What the three chat platforms share: a JSON body and an answer whose code says success."""
import json


def body(document: dict) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def code_is_zero(reply, key: str) -> bool:
    """HTTP 200 and `{key: 0}` in the answer (the platforms answer errors with HTTP 200 too)."""
    if reply.status != 200:
        return False
    try:
        answer = json.loads(reply.text)
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get(key) == 0


def truncate(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes, cut at a character boundary."""
    data = text.encode()
    return text if len(data) <= limit else data[:limit - 3].decode("utf-8", "ignore") + "..."
