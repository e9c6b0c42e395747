"""E-mail over PORTAL_SMTP_URL from PORTAL_SMTP_FROM: plain text with an HTML alternative."""
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app
from markupsafe import escape

from portal.notify import message as messages


def html(message) -> str:
    rows = "".join(f"<tr><th align=left>{escape(label)}</th><td>{escape(value)}</td></tr>"
                   for label, value in message.lines)
    more = f'<p><a href="{escape(message.link)}">{escape(message.link_label)}</a></p>' if message.link else ""
    return f"<h3>{escape(message.title)}</h3><table>{rows}</table>{more}"


def build(channel, event, message, _now: float) -> dict:
    settings = current_app.config["PORTAL"]
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = settings.smtp_from
    mail["To"] = ", ".join(channel.recipients)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain="llm-training-portal")
    if event is not None:
        mail["X-Portal-Event-Id"] = event.id
    # quoted-printable: SMTP servers refuse lines over 998 bytes, and a long reason or the HTML is one line
    mail.set_content(messages.as_text(message), cte="quoted-printable")
    mail.add_alternative(html(message), subtype="html", cte="quoted-printable")
    return {"mail": mail, "recipients": tuple(channel.recipients)}


def accepted(reply) -> bool:
    return reply.status == 250
