"""The demo a newcomer can click: a stdlib training script, a config and a dataset, no GPU."""
import shutil

from flask import current_app

from portal import ROOT
from portal.errors import NotFound
from portal.projects import services
from portal.projects.models import Project

DEMO = "demo"
FILES = {  # examples/ source → place under the training dir
    "examples/demo_train.py": "demo/demo_train.py",
    "examples/configs/demo.yaml": "configs/demo.yaml",
    "examples/datasets/demo.jsonl": "datasets/demo.jsonl",
}
COMMAND = "python3 demo/demo_train.py --config {config_path} --dataset {dataset_path} --output-dir {output_dir}"


def exists() -> bool:
    try:
        services.get_project(DEMO)
    except NotFound:
        return False
    return True


def install(steps: int = 60) -> Project:
    """Copy the demo files into the training dir and create (or refresh) the `demo` project."""
    training = current_app.config["PORTAL"].training_dir
    for source, target in FILES.items():
        destination = training / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / source, destination)
    fields = {
        "description": "A one-minute demo training run: tqdm bar, Trainer metrics, checkpoints. No GPU needed.",
        "owner": "portal", "tags": ["demo"], "dataset_name": "datasets/demo.jsonl",
        "training_yaml_name": "configs/demo.yaml", "executor": "local", "workdir": ".",
        "start_command": COMMAND + f" --steps {int(steps)}", "gpus_per_run": 0, "grace_seconds": 10,
    }
    if exists():
        return services.update_project(DEMO, **fields)
    return services.create_project(DEMO, **fields)
