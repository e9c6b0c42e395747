"""Sign-in, setup, token and user forms. The rules themselves live in services."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from portal.auth.models import ROLES
from portal.i18n import ROLE_LABELS, _l

ROLE_CHOICES = [SelectChoice(role, ROLE_LABELS[role]) for role in ROLES]


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Keep me signed in"))


class SetupForm(FlaskForm):
    username = StringField(_l("Administrator username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    confirm = PasswordField(_l("Repeat password"), validators=[EqualTo("password", _l("Passwords do not match"))])


class TokenForm(FlaskForm):
    label = StringField(_l("Label"), validators=[Optional(), Length(max=100)],
                        render_kw={"placeholder": _l("e.g. CI pipeline")})


class UserCreateForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="viewer")
    password = PasswordField(_l("Initial password"), validators=[DataRequired()])


class UserUpdateForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    active = BooleanField(_l("Active"))
    password = PasswordField(_l("New password"), validators=[Optional()])
    unlock = BooleanField(_l("Clear lock-out"))
