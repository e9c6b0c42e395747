"""Feishu / Lark custom bot: a text message; with a secret, `timestamp` (s) and `sign` in the body.

sign = base64(HMAC-SHA256(key="<timestamp>\\n<secret>", msg=b"")) — the key is the string to
sign and the message empty, as Feishu documents it; success is `code == 0`.
"""
import base64
import hashlib
import hmac

from portal.notify import message as messages
from portal.notify.formats import chat

TEXT_LIMIT = 30000  # bytes: Feishu refuses request bodies above 30 KB with some room for the rest


def sign(secret: str, timestamp: int) -> str:
    return base64.b64encode(hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()


def build(channel, _event, message, now: float) -> dict:
    document = {"msg_type": "text", "content": {"text": chat.truncate(messages.as_text(message), TEXT_LIMIT)}}
    if channel.secret:
        timestamp = int(now)
        document = {"timestamp": str(timestamp), "sign": sign(channel.secret, timestamp), **document}
    return {"url": channel.url, "body": chat.body(document)}


def accepted(reply) -> bool:
    return chat.code_is_zero(reply, "code")
