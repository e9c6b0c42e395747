"""The channel form; shapes only — the rules (URLs, addresses, rules, projects) are in notify.services."""
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FloatField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.i18n import _l
from portal.notify import rules, services
from portal.notify.models import EVENTS, KINDS

KIND_LABELS = {"webhook": _l("Webhook (signed JSON)"), "dingtalk": _l("DingTalk robot"),
               "feishu": _l("Feishu / Lark bot"), "wecom": _l("WeCom robot"), "email": _l("E-mail")}
EVENT_LABELS = {
    "run.started": _l("run started"), "run.succeeded": _l("run succeeded"), "run.failed": _l("run failed"),
    "run.lost": _l("run lost"), "run.stopped": _l("run stopped"), "deployment.running": _l("deployment running"),
    "deployment.unhealthy": _l("deployment unhealthy"), "deployment.restarted": _l("deployment restarted"),
    "deployment.failed": _l("deployment failed"),
}


class ChannelForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=services.NAME_BYTES)])
    kind = SelectField(_l("Kind"), choices=[(k, KIND_LABELS[k]) for k in KINDS], default="webhook")
    url = StringField(_l("URL"), validators=[Optional(), Length(max=services.URL_LENGTH)],
                      render_kw={"placeholder": "https://oapi.dingtalk.com/robot/send?access_token=…"})
    to = StringField(_l("E-mail addresses"), validators=[Optional(), Length(max=2000)],
                     render_kw={"placeholder": _l("comma, separated")})
    secret = PasswordField(_l("Secret (signing key)"), validators=[Optional(), Length(max=services.SECRET_LENGTH)],
                           render_kw={"autocomplete": "new-password"})
    remove_secret = BooleanField(_l("Remove the secret"))
    events = SelectMultipleField(_l("Events"), choices=[(e, EVENT_LABELS[e]) for e in EVENTS],
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    projects = StringField(_l("Projects"), validators=[Optional(), Length(max=6500)],
                           render_kw={"placeholder": _l("empty: every project and deployment")})
    language = SelectField(_l("Language"), choices=[("zh", "中文"), ("en", "English")], default="zh")
    enabled = BooleanField(_l("Enabled"), default=True)
    nonfinite = BooleanField(_l("Alert when a metric becomes NaN or infinite"))
    nonfinite_metric = StringField(_l("Metric (empty: any)"), validators=[Optional(), Length(max=rules.METRIC_LENGTH)],
                                   render_kw={"placeholder": "loss"})
    threshold_metric = StringField(_l("Threshold: metric"), validators=[Optional(), Length(max=rules.METRIC_LENGTH)],
                                   render_kw={"placeholder": "loss"})
    threshold_op = SelectField(_l("is"), choices=[(op, op) for op in rules.OPERATORS], default=">")
    threshold_value = FloatField(_l("value"), validators=[Optional()])
    threshold_after = IntegerField(_l("after step"), default=0, validators=[Optional(), NumberRange(0, 2**31 - 1)])
    stalled_minutes = IntegerField(_l("Alert when there is no new output for (minutes)"),
                                   validators=[Optional(), NumberRange(1, rules.MAX_STALL_MINUTES)])
    idle_percent = IntegerField(_l("Alert when all of a run's GPUs stay below (%)"),
                                validators=[Optional(), NumberRange(1, 100)])
    idle_minutes = IntegerField(_l("for (minutes)"), validators=[Optional(), NumberRange(1, rules.MAX_STALL_MINUTES)])

    def fill(self, channel) -> None:
        """Show a channel's settings: never its secret, and its URL only masked (robots keep their token in it)."""
        self.name.data, self.kind.data = channel.name, channel.kind
        if channel.url:
            self.url.render_kw = {**(self.url.render_kw or {}), "placeholder": services.masked_url(channel.url)}
        self.to.data, self.events.data = ", ".join(channel.recipients or []), list(channel.events or [])
        self.projects.data, self.language.data = ", ".join(channel.projects or []), channel.language
        self.enabled.data = channel.enabled
        for rule in channel.rules or []:
            if rule["kind"] == "nonfinite":
                self.nonfinite.data, self.nonfinite_metric.data = True, rule["metric"]
            elif rule["kind"] == "threshold":
                self.threshold_metric.data, self.threshold_op.data = rule["metric"], rule["op"]
                self.threshold_value.data, self.threshold_after.data = rule["value"], rule["after_step"]
            elif rule["kind"] == "stalled":
                self.stalled_minutes.data = rule["minutes"]
            elif rule["kind"] == "idle_gpus":
                self.idle_percent.data, self.idle_minutes.data = rule["percent"], rule["minutes"]

    def fields_for_service(self, editing: bool) -> dict:
        found = []
        if self.nonfinite.data:
            found.append({"kind": "nonfinite", "metric": self.nonfinite_metric.data or ""})
        if self.threshold_metric.data or self.threshold_value.data is not None:
            found.append({"kind": "threshold", "metric": self.threshold_metric.data or "", "op": self.threshold_op.data,
                          "value": self.threshold_value.data, "after_step": self.threshold_after.data or 0})
        if self.stalled_minutes.data:
            found.append({"kind": "stalled", "minutes": self.stalled_minutes.data})
        if self.idle_percent.data or self.idle_minutes.data:
            found.append({"kind": "idle_gpus", "percent": self.idle_percent.data, "minutes": self.idle_minutes.data})
        fields = {"name": self.name.data, "kind": self.kind.data, "url": self.url.data or "",
                  "to": [a for a in (self.to.data or "").split(",")], "events": self.events.data or [],
                  "projects": [p for p in (self.projects.data or "").split(",")], "language": self.language.data,
                  "enabled": self.enabled.data, "rules": found}
        if editing and not fields["url"]:
            del fields["url"]  # left empty: the URL stays as it is
        if self.secret.data or self.remove_secret.data or not editing:
            fields["secret"] = "" if self.remove_secret.data else self.secret.data or ""
        return fields
