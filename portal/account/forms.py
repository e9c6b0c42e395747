"""The preferences form; the choices come from the service and the settings."""
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from portal.account.services import timezones
from portal.i18n import LANGUAGE_NAMES, _l


class PreferencesForm(FlaskForm):
    locale = SelectField(_l("Language"), validators=[Optional()])
    timezone = SelectField(_l("Time zone"), validators=[Optional()])

    def __init__(self, *args, server_zone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.locale.choices = [SelectChoice("", _l("As the browser asks"))] + [
            SelectChoice(code, name, render_kw={"lang": code.replace("_", "-")}) for code, name in LANGUAGE_NAMES.items()]
        self.timezone.choices = [SelectChoice("", _l("The server's (%(zone)s)", zone=server_zone))] + [
            SelectChoice(zone, zone) for zone in timezones()]
