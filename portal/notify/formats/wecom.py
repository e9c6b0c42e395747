"""WeCom (企业微信) group robot: a markdown message to the URL with its key; success is `errcode == 0`."""
from portal.notify import message as messages
from portal.notify.formats import chat

CONTENT_LIMIT = 4096  # bytes of markdown content the robot takes


def build(channel, _event, message, _now: float) -> dict:
    content = chat.truncate(messages.as_markdown(message), CONTENT_LIMIT)
    return {"url": channel.url, "body": chat.body({"msgtype": "markdown", "markdown": {"content": content}})}


def accepted(reply) -> bool:
    return chat.code_is_zero(reply, "errcode")
