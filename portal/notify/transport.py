"""The one door notifications leave by: checked URLs, HTTP posts and SMTP, with timeouts.

A channel's URL is checked when it is saved and again at each send, against the addresses its
name resolves to then; the connection goes to the very address that was checked (no second
lookup a DNS rebinding could answer differently), no redirect is followed, and every call
gives up after TIMEOUT seconds. Nothing here touches the database: it runs in the pool.
"""
import http.client
import ipaddress
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from urllib.parse import unquote, urlsplit

from portal.i18n import _l

TIMEOUT = 5.0
REPLY_LIMIT = 64 * 1024  # what we read of a receiver's answer
DEFAULT_PORTS = {"http": 80, "https": 443}


class Refused(ValueError):
    """The URL may not be called; the message says why (lazy, in the reader's language)."""


@dataclass(frozen=True)
class Reply:
    status: int | None  # HTTP status or SMTP reply code; None when there was no answer
    text: str  # the start of the answer, or what went wrong


def _private(address: ipaddress._BaseAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def check_url(url: str, allow_private: bool, resolve: bool = True) -> list[str]:
    """The addresses `url` may be called at; Refused when it is not http(s) or is private."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise Refused(_l("the URL must start with http:// or https:// and name a host"))
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise Refused(_l("the URL has a bad port")) from None
    if parts.username or parts.password:
        raise Refused(_l("the URL must not carry a user name or password"))
    if not resolve:
        return []
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Refused(_l("the host %(host)s cannot be resolved", host=parts.hostname)) from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        for address in addresses:
            if _private(ipaddress.ip_address(address.split("%")[0])):
                raise Refused(_l("%(host)s is a loopback, link-local or private address "
                                 "(PORTAL_NOTIFY_ALLOW_PRIVATE is off)", host=parts.hostname))
    return addresses


class _Pinned(http.client.HTTPSConnection):
    """Connects to a checked address while speaking TLS (SNI, certificate) for the URL's host."""

    def __init__(self, host: str, port: int, address: str, tls: bool):
        super().__init__(host, port, timeout=TIMEOUT, context=ssl.create_default_context())
        self._address, self._tls = address, tls

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host) if self._tls else sock


def post(url: str, headers: dict[str, str], body: bytes, allow_private: bool) -> Reply:
    """POST `body` to `url` (checked again now); never follows a redirect."""
    try:
        addresses = check_url(url, allow_private)
    except Refused as error:
        return Reply(None, str(error))
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    connection = _Pinned(parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme], addresses[0],
                         parts.scheme == "https")
    try:
        connection.request("POST", target, body=body, headers={"Content-Type": "application/json; charset=utf-8",
                                                               "User-Agent": "llm-training-portal", **headers})
        response = connection.getresponse()
        text = response.read(REPLY_LIMIT).decode("utf-8", "replace")
        return Reply(response.status, text)
    except (OSError, http.client.HTTPException) as error:
        return Reply(None, f"{type(error).__name__}: {error}"[:500])
    finally:
        connection.close()


def send_mail(smtp_url: str, message: EmailMessage, recipients: list[str]) -> Reply:
    """Send over PORTAL_SMTP_URL: smtp:// (plain), smtp+starttls:// or smtps:// (TLS from the start)."""
    if not smtp_url:
        return Reply(None, "PORTAL_SMTP_URL is not set")
    parts = urlsplit(smtp_url)
    tls = parts.scheme == "smtps"
    port = parts.port or (465 if tls else 587 if parts.scheme == "smtp+starttls" else 25)
    try:
        factory = smtplib.SMTP_SSL if tls else smtplib.SMTP
        with factory(parts.hostname, port, timeout=TIMEOUT) as smtp:
            if parts.scheme == "smtp+starttls":
                smtp.starttls(context=ssl.create_default_context())
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            # mail/rcpt/data one by one: sendmail() hides the server's final reply, which we record
            smtp.ehlo_or_helo_if_needed()
            code, answer = smtp.mail(message["From"])
            if code != 250:
                return Reply(code, answer.decode("utf-8", "replace"))
            for recipient in recipients:
                code, answer = smtp.rcpt(recipient)
                if code not in (250, 251):
                    return Reply(code, answer.decode("utf-8", "replace"))
            code, answer = smtp.data(message.as_bytes(policy=SMTP_POLICY))  # CRLF: smtplib fixes str only
            return Reply(code, answer.decode("utf-8", "replace"))
    except smtplib.SMTPResponseException as error:
        return Reply(error.smtp_code, error.smtp_error.decode("utf-8", "replace")[:500])
    except (OSError, smtplib.SMTPException) as error:
        return Reply(None, f"{type(error).__name__}: {error}"[:500])
