"""Print pip constraints that pin every dependency of pyproject.toml at its stated lower bound.

``numpy>=1.24`` becomes ``numpy==1.24.*`` (the lowest minor release the bound admits, newest
patch), ``hypothesis>=6.100.0`` becomes ``hypothesis==6.100.0``. Extras named on the command
line are included (``python .ci/min_versions.py dev``). Used by ``.ci/run`` to test the lower
bounds in a second environment.
"""

import re
import sys
import tomllib
from pathlib import Path


def lower_bound_pins(requirements: list[str]) -> list[str]:
    pins = []
    for requirement in requirements:
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*>=\s*([0-9]+(?:\.[0-9]+)*(?:\.post[0-9]+)?)", requirement)
        if match is None:
            continue
        name, version = match.group(1), match.group(3)
        pins.append(f"{name}=={version}.*" if version.count(".") == 1 else f"{name}=={version}")
    return pins


def main(extras: list[str]) -> None:
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    print("\n".join(lower_bound_pins(requirements)))


if __name__ == "__main__":
    main(sys.argv[1:])
