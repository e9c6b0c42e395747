"""The deployment form; shapes only — the rules are in deployments.services."""
from flask_wtf import FlaskForm
from wtforms import FloatField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.deployments.services import MAX_TP
from portal.i18n import _l


class DeploymentForm(FlaskForm):
    model_path = StringField(_l("Model (folder under the training dir or a model root)"),
                             validators=[DataRequired(), Length(max=1000)],
                             render_kw={"placeholder": "models/qwen2.5", "list": "model-folders", "autocomplete": "off"})
    served_model_name = StringField(_l("Served model name"), validators=[Optional(), Length(max=128)],
                                    render_kw={"placeholder": _l("the folder's name")})
    model_version = StringField(_l("Version"), validators=[Optional(), Length(max=100)])
    tags = StringField(_l("Tags"), validators=[Optional()], render_kw={"placeholder": _l("comma, separated")})
    preferred_gpu = SelectField(_l("GPU"), validators=[Optional()], choices=[])
    tensor_parallel_size = IntegerField(_l("GPUs (tensor parallel)"), default=1, validators=[NumberRange(1, MAX_TP)])
    gpu_memory_utilization = FloatField(_l("GPU memory utilization"), default=0.9,
                                        validators=[NumberRange(0.05, 1.0)])
    max_model_len = IntegerField(_l("Max model length (tokens)"), validators=[Optional(), NumberRange(16)])
    extra_args = StringField(_l("More vLLM flags"), validators=[Optional(), Length(max=4000)],
                             render_kw={"placeholder": "--max-num-seqs 4"})
    adapter_path = StringField(_l("LoRA adapter (folder, optional)"), validators=[Optional(), Length(max=1000)],
                               render_kw={"list": "adapter-folders"})
    adapter_name = StringField(_l("Adapter name"), validators=[Optional(), Length(max=128)])
    health_path = StringField(_l("Health path"), default="/health", validators=[Optional(), Length(max=200)])

    def fields_for_service(self) -> dict:
        adapters = []
        if self.adapter_path.data:
            adapters.append({"name": self.adapter_name.data or "adapter", "path": self.adapter_path.data})
        return {
            "model_path": self.model_path.data.strip(), "served_model_name": self.served_model_name.data or None,
            "model_version": self.model_version.data or "",
            "tags": [t.strip() for t in (self.tags.data or "").split(",") if t.strip()],
            "preferred_gpu": int(self.preferred_gpu.data) if self.preferred_gpu.data not in (None, "") else None,
            "tensor_parallel_size": self.tensor_parallel_size.data or 1,
            "gpu_memory_utilization": self.gpu_memory_utilization.data or 0.9,
            "max_model_len": self.max_model_len.data or None, "extra_args": self.extra_args.data or "",
            "lora_adapters": adapters, "health_path": self.health_path.data or "/health",
        }
