"""Dataset forms; shapes only — the rules are in datasets.services."""
import json

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.i18n import _l, gettext


def _json_object(_form, field) -> None:
    if not (field.data or "").strip():
        return
    try:
        value = json.loads(field.data)
    except ValueError as error:
        raise ValidationError(gettext("not valid JSON: %(error)s", error=error)) from None
    if not isinstance(value, dict):
        raise ValidationError(gettext('must be a JSON object, e.g. {"language": "zh"}'))


class DatasetEditForm(FlaskForm):
    type = StringField(_l("Type"), validators=[Optional(), Length(max=32)], render_kw={"placeholder": "text2text"})
    task_type = StringField(_l("Task type"), validators=[Optional(), Length(max=32)], render_kw={"placeholder": "sft"})
    description = TextAreaField(_l("Description"), validators=[Optional()], render_kw={"rows": 2})
    metadata = TextAreaField(_l("Metadata (JSON object)"), validators=[Optional(), _json_object],
                             render_kw={"rows": 2, "placeholder": '{"language": "zh"}'})
    train_config = SelectField(_l("Training config"), choices=[], validate_choice=False)

    def fields_for_service(self) -> dict:
        return {"type": self.type.data or "", "task_type": self.task_type.data or "",
                "description": self.description.data or "",
                "metadata": json.loads(self.metadata.data) if (self.metadata.data or "").strip() else {},
                "train_config": self.train_config.data or None}

    def fill_from(self, dataset) -> None:
        self.type.data, self.task_type.data = dataset.type, dataset.task_type
        self.description.data = dataset.description
        self.metadata.data = json.dumps(dataset.meta, ensure_ascii=False) if dataset.meta else ""
        self.train_config.data = dataset.train_config or ""


class DatasetForm(DatasetEditForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)],
                       render_kw={"placeholder": "chatglm_pairs_v1", "autocomplete": "off"})
