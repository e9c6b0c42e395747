"""Forms of the config pages; shapes only — the rules are in configs.services and validate."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.i18n import _l

NAME_ATTRS = {"placeholder": "qwen-lora-sft", "autocomplete": "off", "spellcheck": "false"}


class ConfigForm(FlaskForm):
    content = TextAreaField(_l("YAML"), render_kw={"rows": 26, "spellcheck": "false", "class": "code",
                                               "autocapitalize": "off"})

    def text(self) -> str:
        """The textarea's YAML with the line ends the user typed: browsers submit CRLF."""
        return (self.content.data or "").replace("\r\n", "\n")


class NewConfigForm(ConfigForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)], render_kw=NAME_ATTRS)


class UploadForm(FlaskForm):
    file = FileField(_l("YAML file (.yaml or .yml)"), validators=[FileRequired(_l("Choose a file to upload"))],
                     render_kw={"accept": ".yaml,.yml"})
    name = StringField(_l("Name in the library (optional; default: from the file name)"),
                       validators=[Optional(), Length(max=64)], render_kw=NAME_ATTRS)
    make_current = BooleanField(_l("Make it the current config (the one GET /v1/train-config answers with)"))


STARTER = """### model
model_name_or_path: Qwen/Qwen2.5-7B-Instruct

### method
stage: sft
do_train: true
finetuning_type: lora
lora_rank: 8
lora_target: all

### dataset
dataset: identity            # names from {dataset_dir}/dataset_info.json, comma-separated
dataset_dir: {dataset_dir}
template: qwen
cutoff_len: 2048
max_samples: 1000

### output
output_dir: saves/qwen2.5-7b/lora/sft
logging_steps: 10
save_steps: 500

### train
per_device_train_batch_size: 1
gradient_accumulation_steps: 8
learning_rate: 1.0e-4
num_train_epochs: 3.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
bf16: true
"""


def starter(dataset_dir) -> str:
    """A new config's text, its `dataset_dir` where the portal registers datasets."""
    return STARTER.format(dataset_dir=dataset_dir)
