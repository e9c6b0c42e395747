"""DingTalk custom robot: a markdown message; with a secret ("加签"), timestamp + sign in the URL.

sign = urlencode(base64(HMAC-SHA256(key=secret, msg="<timestamp ms>\\n<secret>"))); success is
`errcode == 0`.
"""
import base64
import hashlib
import hmac
from urllib.parse import quote_plus

from portal.notify import message as messages
from portal.notify.formats import chat

TEXT_LIMIT = 20000  # bytes of markdown text the robot takes


def sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def build(channel, _event, message, now: float) -> dict:
    url = channel.url
    if channel.secret:
        timestamp = int(now * 1000)
        url += ("&" if "?" in url else "?") + f"timestamp={timestamp}&sign={sign(channel.secret, timestamp)}"
    document = {"msgtype": "markdown",
                "markdown": {"title": message.title, "text": chat.truncate(messages.as_markdown(message), TEXT_LIMIT)}}
    return {"url": url, "body": chat.body(document)}


def accepted(reply) -> bool:
    return chat.code_is_zero(reply, "errcode")
