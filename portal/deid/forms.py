"""Forms of the de-identification pages; shapes only — the rules are in deid.services."""
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from portal.i18n import _l

SAMPLE = "客户王小明，手机号 13812345678，邮箱 wang@example.com，身份证 11010519491231002X。"


class PlaygroundForm(FlaskForm):
    # choices come from services.list_policies(); an unknown id is the service's 404 to report
    policy = SelectField(_l("Policy"), default="default", validate_choice=False)
    text = TextAreaField(_l("Text"), default=SAMPLE,
                         render_kw={"rows": 8, "placeholder": _l("Paste text with names, phones, IDs…"),
                                    "spellcheck": "false"})
    seed = IntegerField(_l("Seed"), validators=[Optional(), NumberRange(0, 2**63 - 1)],
                        render_kw={"placeholder": _l("optional"), "inputmode": "numeric"})


class PolicyForm(FlaskForm):
    policy_id = StringField(_l("Id"), validators=[Optional(), Length(max=64)],
                            render_kw={"placeholder": "my-policy", "autocomplete": "off", "spellcheck": "false"})
    yaml = TextAreaField(_l("Policy (YAML)"), render_kw={"rows": 18, "spellcheck": "false", "class": "code"})
    sample = TextAreaField(_l("Sample text to try it on"), default=SAMPLE, render_kw={"rows": 4})


STARTER = """description: my policy
extends: default            # start from a built-in: default, mask, pseudonymize, strict
entities:
  PHONE: {operator: mask, keep_first: 3, keep_last: 4}
  EMAIL: hash
  # CUSTOMER: {keywords: [星河科技, Acme Corp], ignore_case: true, operator: pseudonymize}
allow: []
"""
