"""What Slurm's tools read and print: the batch script the portal writes, and parsers of the
output of `squeue`, `scontrol` and `sinfo`. Pure functions, so they are tested without a cluster.
"""
import re
import shlex

from portal.supervisor.executors.base import MASTER_PORT_BASE, LaunchSpec

SQUEUE_FORMAT = "%i|%T|%r|%N"  # job id, state, reason, node list
# Start-command values known only once the job runs: computed in the batch script, expanded there
RUNTIME = {"master_addr": "${MASTER_ADDR}", "master_port": "${MASTER_PORT}"}
RUNTIME_REF = re.compile("(" + "|".join(re.escape(ref) for ref in RUNTIME.values()) + ")")
# one line per node and partition: name|partition|availability|state|CPUs A/I/O/T|GRES|GRES used
SINFO_FORMAT = "NodeList:|,Partition:|,Available:|,StateLong:|,CPUsState:|,Gres:|,GresUsed:|"
GPUS = re.compile(r"gpu(?::[^:(,]+)?:(\d+)")
# each option writes one `#SBATCH` line, so its values must be one word sbatch reads as it is
VALUE = re.compile(r"^[A-Za-z0-9._:,=/@%+\-\[\]]+$")


def sbatch_lines(options: dict, run_dir: str, mounts: list[str]) -> list[str]:
    """The `#SBATCH` lines of a run from its frozen settings (checked in projects.services)."""
    lines = [f"--output={run_dir}/output.log", "--open-mode=append", f"--chdir={run_dir}", "--ntasks-per-node=1"]
    for key, flag in (("partition", "partition"), ("account", "account"), ("qos", "qos"), ("time_limit", "time"),
                      ("nodes", "nodes"), ("cpus_per_task", "cpus-per-task"), ("memory", "mem")):
        if options.get(key):
            lines.append(f"--{flag}={options[key]}")
    if options.get("gpus_per_node"):
        lines.append(f"--gres=gpu:{options['gpus_per_node']}")
    if options.get("container_image"):
        # the batch script runs in the container: it must see the run folder and the training dir
        lines.append(f"--container-image={options['container_image']}")
        lines.append("--container-mounts=" + ",".join(mounts + list(options.get("container_mounts") or [])))
    lines.extend(options.get("extra") or [])
    return [f"#SBATCH {line}" for line in lines]


def batch_script(spec: LaunchSpec, options: dict, run_dir: str, mounts: list[str]) -> str:
    """A POSIX sh batch script: settings as `#SBATCH` lines, the environment, then the wrapper.

    The environment and argv are quoted for sh; sbatch is called with --export=NONE, so the
    job sees exactly this environment (and srun inside it passes it on).
    """
    exports = [f"export {key}={shlex.quote(value)}" for key, value in sorted(spec.env.items())]
    gpus = int(options.get("gpus_per_node") or 0)
    return "\n".join([
        "#!/bin/sh",
        f"#SBATCH --job-name=portal-run-{spec.run_id}",
        *sbatch_lines(options, run_dir, mounts),
        f"# written by the training portal for run {spec.run_id}",
        *exports,
        "export SLURM_EXPORT_ENV=ALL",
        'MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        f"MASTER_PORT=$(({MASTER_PORT_BASE} + SLURM_JOB_ID % 20000))",
        f'export MASTER_ADDR MASTER_PORT NNODES="$SLURM_JOB_NUM_NODES" GPUS_PER_NODE={gpus}',
        "exec sh " + " ".join(map(sh_word, [f"{run_dir}/wrapper.sh", run_dir, spec.workdir, *spec.argv])),
        "",
    ])


def sh_word(arg: str) -> str:
    """One argument for sh: quoted as it is, except RUNTIME's two references, which sh expands.

    Only those exact references are left unquoted (in double quotes, the rest escaped), so the
    argument stays one word and nothing else in it is ever read by the shell.
    """
    if not RUNTIME_REF.search(arg):
        return shlex.quote(arg)
    parts = RUNTIME_REF.split(arg)  # the pattern's group keeps the references at the odd places
    return '"' + "".join(part if i % 2 else re.sub(r'([\\"$`])', r"\\\1", part) for i, part in enumerate(parts)) + '"'


def exit_code_of(state: str, exit_code: str) -> int:
    """Slurm's `ExitCode=X:S` as a shell would say it; a job that did not complete is never 0."""
    code, _, sig = exit_code.partition(":")
    value = 128 + int(sig) if sig.isdigit() and int(sig) else int(code) if code.isdigit() else 1
    if value == 0 and state != "COMPLETED":
        return 143 if state == "CANCELLED" else 1
    return value


def gpu_count(gres: str) -> int:
    """GPUs in a GRES string (`gpu:8`, `gpu:a100:4(S:0-1),gpu:t4:2`); 0 for `(null)`."""
    return sum(int(n) for n in GPUS.findall(gres))


def parse_sinfo(text: str) -> list[dict]:
    """Partitions with their nodes, CPUs and GPUs (allocated and total) from `sinfo -N -O SINFO_FORMAT`."""
    partitions: dict[str, dict] = {}
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 7:
            continue
        node, name, available, state, cpus, gres, used = parts[:7]
        cpu = cpus.split("/")
        partition = partitions.setdefault(name.rstrip("*"), {
            "name": name.rstrip("*"), "default": name.endswith("*"), "available": available, "nodes": [],
            "cpus_allocated": 0, "cpus_total": 0, "gpus_allocated": 0, "gpus_total": 0})
        entry = {"name": node, "state": state,
                 "cpus_allocated": int(cpu[0]) if len(cpu) == 4 and cpu[0].isdigit() else 0,
                 "cpus_total": int(cpu[3]) if len(cpu) == 4 and cpu[3].isdigit() else 0,
                 "gpus_allocated": gpu_count(used), "gpus_total": gpu_count(gres)}
        partition["nodes"].append(entry)
        for key in ("cpus_allocated", "cpus_total", "gpus_allocated", "gpus_total"):
            partition[key] += entry[key]
    return list(partitions.values())


def expand(spec: str) -> list[str]:
    """`0-2,5` -> 0 1 2 5 (GPU indexes); `gpu[01-02],cpu1` -> gpu01 gpu02 cpu1 (Slurm's host lists)."""
    out = []
    for prefix, inner, plain in re.findall(r"([^,\[]*)\[([^\]]*)\]|([^,]+)", spec):
        if plain and not plain.replace("-", "").isdigit():  # a host name as it is
            out.append(plain)
            continue
        for part in inner.split(",") if inner else [plain]:
            low, _, high = part.partition("-")
            for number in range(int(low), int(high or low) + 1):
                out.append(f"{prefix}{number:0{len(low)}d}")
    return out


def job_gpus(text: str) -> dict[str, list[str]]:
    """{node: [GPU index]} from the `Nodes=… GRES=gpu:N(IDX:…)` lines of `scontrol -d show job`."""
    found: dict[str, list[str]] = {}
    for nodes, idx in re.findall(r"Nodes=(\S+) .*?GRES=\S*?gpu\S*?\(IDX:([0-9,\-]+)\)", text):
        for node in expand(nodes):
            found.setdefault(node, []).extend(f"gpu{i}" for i in expand(idx))
    return found


def parse_scontrol(text: str) -> dict[str, str]:
    """`Key=Value` pairs of `scontrol show job` (values never hold spaces, except Reason's are joined)."""
    fields = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        if sep:
            fields[key] = value
    return fields
