"""How much of a request the config endpoints accept, decided before the body is parsed.

Werkzeug spools a multipart body completely before a view runs, and Flask caps form fields
at 500 kB by default; config requests get their own cap from PORTAL_MAX_CONFIG_BYTES instead,
installed by url_value_preprocessors, which run before CSRF reads the form.
"""
from flask import current_app, request

from portal.errors import TooLarge
from portal.i18n import _l

ENVELOPE = 64 * 1024  # multipart headers and the other form fields around the YAML
ENCODED = 6  # worst inflation of text in a form or JSON body (\u escapes; %-encoding is 3)


def limit_request(encoded: bool) -> None:
    """Refuse a declared oversize body at once and cap the rest while it streams in.

    `encoded`: the YAML travels inside a form field or JSON string, which inflates it;
    the exact limit is checked again on the decoded text.
    """
    limit = current_app.config["PORTAL"].max_config_bytes
    allowed = limit * (ENCODED if encoded else 1) + ENVELOPE
    if request.content_length is not None and request.content_length > allowed:
        raise TooLarge(_l("the request is %(size)s bytes; configs are limited to %(limit)s bytes by "
                          "PORTAL_MAX_CONFIG_BYTES", size=request.content_length, limit=limit))
    request.max_content_length = allowed
    request.max_form_memory_size = allowed
