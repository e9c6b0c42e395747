"""Sign-in, setup, token and user forms. The rules themselves live in services."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from portal.auth.models import ROLES

ROLE_CHOICES = list(ROLES)


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me signed in")


class SetupForm(FlaskForm):
    username = StringField("Administrator username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired()])
    confirm = PasswordField("Repeat password", validators=[EqualTo("password", "Passwords do not match")])


class TokenForm(FlaskForm):
    label = StringField("Label", validators=[Optional(), Length(max=100)],
                        render_kw={"placeholder": "e.g. CI pipeline"})


class UserCreateForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="viewer")
    password = PasswordField("Initial password", validators=[DataRequired()])


class UserUpdateForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    active = BooleanField("Active")
    password = PasswordField("New password", validators=[Optional()])
    unlock = BooleanField("Clear lock-out")
