"""The project form; shapes only — the rules are in projects.services."""
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.config import EXECUTORS
from portal.i18n import _l, gettext
from portal.projects.services import (CLEANUP_ACTIONS, CLEANUP_DEFAULTS, CLEANUP_KEEP, CLEANUP_MODES, IDLE_MINUTES,
                                      SLURM_NUMBERS, SLURM_WORDS, STOP_SIGNALS)

# start-command presets the form offers. LLaMA-Factory writes where its YAML's output_dir says;
# `key=value` after the YAML overrides it (hparams/parser.py merges them with OmegaConf.from_cli),
# so `output_dir={output_dir}` puts the outputs in the portal's folder for the run
COMMAND_PRESETS = (
    ("llamafactory-cli train {config} output_dir={output_dir}",
     _l("LLaMA-Factory, outputs in the portal's folder for the run")),
    ("llamafactory-cli train {config}", _l("LLaMA-Factory, outputs where the config's output_dir says")),
    ("bash run_train_full_sft.sh {config}", _l("the original script (outputs where the config's output_dir says)")),
)
CLEANUP_ACTION_LABELS = {"optimizer": _l("delete only the optimizer state"), "delete": _l("delete the checkpoint")}
CLEANUP_MODE_LABELS = {"min": _l("lower is better"), "max": _l("higher is better")}


def parse_env(text: str) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments are skipped."""
    env = {}
    for number, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(gettext("line %(number)s: expected KEY=VALUE", number=number))
        env[key.strip()] = value.strip()
    return env


class ProjectForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)],
                       render_kw={"placeholder": "qwen-finetune", "autocomplete": "off"})
    description = TextAreaField(_l("Description"), validators=[Optional()], render_kw={"rows": 2})
    owner = StringField(_l("Owner"), validators=[Optional(), Length(max=64)])
    tags = StringField(_l("Tags"), validators=[Optional()], render_kw={"placeholder": _l("comma, separated")})
    dataset_name = StringField(_l("Dataset (under the training dir)"), validators=[Optional()],
                               render_kw={"placeholder": "datasets/sample.jsonl", "list": "dataset-files"})
    training_yaml_name = StringField(_l("Training config (under the training dir)"), validators=[Optional()],
                                     render_kw={"placeholder": "configs/train.yaml", "list": "config-files"})
    executor = SelectField(_l("Executor"), choices=[SelectChoice("", _l("server default"))] + list(EXECUTORS),
                           validators=[Optional()])
    container = StringField(_l("Container (docker)"), validators=[Optional()])
    workdir = StringField(_l("Working directory"), validators=[Optional()])
    start_command = StringField(_l("Start command"), validators=[Optional()],
                                render_kw={"placeholder": "bash run_train_full_sft.sh {config}",
                                           "list": "command-presets"})
    gpus_per_run = IntegerField(_l("GPUs per run"), default=0, validators=[NumberRange(0, 64)])
    env = TextAreaField(_l("Environment (KEY=VALUE per line)"), validators=[Optional()], render_kw={"rows": 3})
    stop_signal = SelectField(_l("Stop signal"), choices=list(STOP_SIGNALS), default="SIGTERM")
    grace_seconds = IntegerField(_l("Grace period (s) before SIGKILL"), default=30, validators=[NumberRange(0, 3600)])
    idle_gpu_percent = IntegerField(_l("Stop when all its GPUs stay below (%)"), default=0,
                                    validators=[Optional(), NumberRange(0, 100)])
    idle_gpu_minutes = IntegerField(_l("for (minutes)"), default=0, validators=[Optional(), NumberRange(*IDLE_MINUTES)])
    # the checkpoint clean-up policy (projects.services.check_cleanup); no metric: no policy
    cleanup_metric = StringField(_l("Best by metric"), validators=[Optional(), Length(max=100)],
                                 render_kw={"placeholder": CLEANUP_DEFAULTS["metric"]})
    cleanup_mode = SelectField(_l("Better"), choices=[SelectChoice(m, CLEANUP_MODE_LABELS[m]) for m in CLEANUP_MODES],
                               default=CLEANUP_DEFAULTS["mode"])
    cleanup_keep_best = IntegerField(_l("Keep the best"), default=CLEANUP_DEFAULTS["keep_best"],
                                     validators=[Optional(), NumberRange(*CLEANUP_KEEP)])
    cleanup_keep_latest = IntegerField(_l("Keep the latest"), default=CLEANUP_DEFAULTS["keep_latest"],
                                       validators=[Optional(), NumberRange(*CLEANUP_KEEP)])
    cleanup_action = SelectField(_l("The others"), choices=[SelectChoice(a, CLEANUP_ACTION_LABELS[a])
                                                             for a in CLEANUP_ACTIONS],
                                 default=CLEANUP_DEFAULTS["action"])
    # the Slurm executor's settings (projects.services.check_slurm holds their rules); empty: the server's
    slurm_partition = StringField(_l("Partition"), validators=[Optional()])
    slurm_account = StringField(_l("Account"), validators=[Optional()])
    slurm_qos = StringField(_l("QOS"), validators=[Optional()])
    slurm_time_limit = StringField(_l("Time limit"), validators=[Optional()], render_kw={"placeholder": "2-00:00:00"})
    slurm_nodes = IntegerField(_l("Nodes"), validators=[Optional(), NumberRange(*SLURM_NUMBERS["nodes"])])
    slurm_gpus_per_node = IntegerField(_l("GPUs per node"),
                                       validators=[Optional(), NumberRange(*SLURM_NUMBERS["gpus_per_node"])])
    slurm_cpus_per_task = IntegerField(_l("CPUs per task"),
                                       validators=[Optional(), NumberRange(*SLURM_NUMBERS["cpus_per_task"])])
    slurm_memory = StringField(_l("Memory per node"), validators=[Optional()], render_kw={"placeholder": "64G"})
    slurm_container_image = StringField(_l("Container image (pyxis)"), validators=[Optional()])
    slurm_container_mounts = StringField(_l("Container mounts (comma, separated)"), validators=[Optional()],
                                         render_kw={"placeholder": "/data:/data"})
    slurm_extra = TextAreaField(_l("More sbatch options (one per line)"), validators=[Optional()],
                                render_kw={"rows": 2, "placeholder": "--constraint=a100"})

    def fields_for_service(self) -> dict:
        """The form's values as `projects.services` takes them (env may raise ValueError)."""
        return {
            "description": self.description.data or "", "owner": self.owner.data or "",
            "tags": [t.strip() for t in (self.tags.data or "").split(",") if t.strip()],
            "dataset_name": self.dataset_name.data or "", "training_yaml_name": self.training_yaml_name.data or "",
            "executor": self.executor.data or None, "container": self.container.data or None,
            "workdir": self.workdir.data or None, "start_command": self.start_command.data or None,
            "gpus_per_run": self.gpus_per_run.data or 0, "env": parse_env(self.env.data),
            "stop_signal": self.stop_signal.data, "grace_seconds": self.grace_seconds.data or 0,
            "slurm": self._slurm(), "idle_gpu_percent": self.idle_gpu_percent.data or 0,
            "idle_gpu_minutes": self.idle_gpu_minutes.data or 0, "cleanup": self._cleanup(),
        }

    def _cleanup(self) -> dict:
        if not (self.cleanup_metric.data or "").strip():
            return {}
        return {"metric": self.cleanup_metric.data.strip(), "mode": self.cleanup_mode.data,
                "keep_best": self.cleanup_keep_best.data or 0, "keep_latest": self.cleanup_keep_latest.data or 0,
                "action": self.cleanup_action.data}

    def _slurm(self) -> dict:
        values = {key: self[f"slurm_{key}"].data for key in SLURM_WORDS + tuple(SLURM_NUMBERS)}
        values["container_mounts"] = [m.strip() for m in (self.slurm_container_mounts.data or "").split(",") if m.strip()]
        values["extra"] = [line.strip() for line in (self.slurm_extra.data or "").splitlines() if line.strip()]
        return {key: value for key, value in values.items() if value not in (None, "", [])}

    def fill_from(self, project) -> None:
        for key in ("name", "description", "owner", "dataset_name", "training_yaml_name", "executor", "container",
                    "workdir", "start_command", "gpus_per_run", "stop_signal", "grace_seconds"):
            getattr(self, key).data = getattr(project, key) or ("" if key not in ("gpus_per_run",
                                                                                 "grace_seconds") else 0)
        self.tags.data = ", ".join(project.tags or [])
        slurm = project.slurm or {}
        for key in SLURM_WORDS + tuple(SLURM_NUMBERS):
            self[f"slurm_{key}"].data = slurm.get(key)
        self.idle_gpu_percent.data, self.idle_gpu_minutes.data = project.idle_gpu_percent, project.idle_gpu_minutes
        for key, value in (project.cleanup or {}).items():
            self[f"cleanup_{key}"].data = value
        self.slurm_container_mounts.data = ", ".join(slurm.get("container_mounts") or [])
        self.slurm_extra.data = "\n".join(slurm.get("extra") or [])
        self.env.data = "\n".join(f"{k}={v}" for k, v in (project.env or {}).items())
