"""Only portal/supervisor/executors/ knows executor names; everything else asks the executor."""
import re

from portal import ROOT
from portal.supervisor import executors

NAME = "|".join(executors.NAMES + ("slurm",))
COMPARED = re.compile(rf"""(==|!=|\bin)\s*\(?\s*["']({NAME})["']|["']({NAME})["']\s*(==|!=)""")


def test_no_executor_name_is_compared_outside_the_executors_package():
    package = ROOT / "portal" / "supervisor" / "executors"
    offenders = []
    for path in (ROOT / "portal").rglob("*.py"):
        if package in path.parents:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if COMPARED.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_pattern_finds_a_comparison():
    assert COMPARED.search('if run.executor == "docker":') and COMPARED.search("x in ('local', 'b')")
    assert not COMPARED.search('"executor": "local",')
