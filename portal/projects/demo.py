"""The demo a newcomer can click: a stdlib training script, a config and a dataset, no GPU.

The dataset and the config go in through their libraries' services (an upload, a saved config),
so the demo's own files show in Datasets and Configs like any other.
"""
import shutil

from flask import current_app
from sqlalchemy import select

from portal import ROOT
from portal.configs import services as configs
from portal.datasets import paths, services as datasets, transfers
from portal.datasets.models import Dataset
from portal.errors import NotFound
from portal.extensions import db
from portal.projects import services
from portal.projects.models import Project

DEMO = "demo"
FILES = {"examples/demo_train.py": "demo/demo_train.py"}  # examples/ source → place under the training dir
CONFIG = ROOT / "examples/configs/demo.yaml"
DATASET = ROOT / "examples/datasets/demo.jsonl"
COMMAND = "python3 demo/demo_train.py --config {config_path} --dataset {dataset_path} --output-dir {output_dir}"


def exists() -> bool:
    try:
        services.get_project(DEMO)
    except NotFound:
        return False
    return True


def _dataset_file() -> str:
    """The demo dataset's file (uploaded once, registered as `demo`, the name its config uses)."""
    dataset = db.session.scalar(select(Dataset).filter_by(name=DEMO))
    if dataset is None:
        dataset = datasets.create_dataset(DEMO, description="The demo project's dataset (alpaca format).")
    item = next((f for f in dataset.files if f.name == DATASET.name and f.status == "ready"), None)
    if item is None:
        with open(DATASET, "rb") as stream:
            item = transfers.receive(dataset.id, stream, "application/octet-stream", DATASET.stat().st_size,
                                     DATASET.name, None)
    if item.registered_as != DEMO:
        datasets.register_file(dataset.id, item.id, DEMO)
    return paths.relative(DEMO, item.stored_name)


def install(steps: int = 60) -> Project:
    """Put the demo files in place and create (or refresh) the `demo` project."""
    training = current_app.config["PORTAL"].training_dir
    for source, target in FILES.items():
        destination = training / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / source, destination)
    config, _checked = configs.save_config(DEMO, CONFIG.read_bytes(), filename=CONFIG.name)
    fields = {
        "description": "A one-minute demo training run: tqdm bar, Trainer metrics, checkpoints. No GPU needed.",
        "owner": "portal", "tags": ["demo"], "dataset_name": _dataset_file(),
        "training_yaml_name": f"configs/{config.name}.yaml", "executor": "local", "workdir": ".",
        "start_command": COMMAND + f" --steps {int(steps)}", "gpus_per_run": 0, "grace_seconds": 10,
    }
    if exists():
        return services.update_project(DEMO, **fields)
    return services.create_project(DEMO, **fields)
