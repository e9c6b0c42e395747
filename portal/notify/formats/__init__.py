"""The five channel formats behind one interface: `build` a request, `send` it, judge the reply.

Each kind's module says how its platform wants a message (body, signature, success answer),
as their documentation writes it. `build` runs in the tick (app context: texts, settings);
`send` in the pool (no database).
"""
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

from portal.notify import message as messages
from portal.notify import transport
from portal.notify.formats import dingtalk, email, feishu, webhook, wecom
from portal.notify.models import Channel, Event

KINDS = {"webhook": webhook, "dingtalk": dingtalk, "feishu": feishu, "wecom": wecom, "email": email}


@dataclass(frozen=True)
class Outgoing:
    """One request ready to leave: an HTTP post, or an e-mail."""
    kind: str
    url: str = ""
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    mail: EmailMessage | None = None
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    ok: bool
    status: int | None
    reply: str


def build(channel: Channel, event: Event | None) -> Outgoing:
    """The request that tells `channel` about `event` (None: a test message)."""
    text = messages.compose(channel, event)
    return Outgoing(kind=channel.kind, **KINDS[channel.kind].build(channel, event, text, time.time()))


def send(outgoing: Outgoing, settings) -> Result:
    """In the pool: send and judge the answer by the platform's rule."""
    if outgoing.mail is not None:
        reply = transport.send_mail(settings.smtp_url, outgoing.mail, list(outgoing.recipients))
    else:
        reply = transport.post(outgoing.url, outgoing.headers, outgoing.body, settings.notify_allow_private)
    return Result(KINDS[outgoing.kind].accepted(reply), reply.status, reply.text[:500])
