"""Which code a trained model is made of (stdlib only: used by the gateway and inside Rasa).

Rasa's component cache keys a trained component on its config and training data only, and our model
cache (nlu/training.py `data_hash`) on config, data and dictionary: a change of a custom component's
code would reuse a component trained, or persisted, by the old code. Both keys add the content of
the components' modules and of every nlu module they import.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

NLU_PACKAGE = Path(__file__).resolve().parent
# `from nlu.x import ...`, `from nlu import x [as y], ...`, `import nlu.x`: the modules of this package a module uses.
_NLU_IMPORT = re.compile(r"^\s*(?:from nlu\.(\w+) import|from nlu import ([\w, ]+)|import nlu\.(\w+))", re.MULTILINE)
# A pipeline entry of config.yml naming one of our components: `- name: nlu.faq_selector.FaqSelector`.
_PIPELINE_MODULE = re.compile(r"^\s*-\s*name:\s*nlu\.(\w+)\.\w+", re.MULTILINE)


def pipeline_modules(config_text: str) -> list[str]:
    """The nlu modules whose components a Rasa config's pipeline names."""
    return _PIPELINE_MODULE.findall(config_text)


def code_files(modules: list[str]) -> list[Path]:
    """The source files of these modules of nlu/ and of every nlu module they import, transitively."""
    seen: dict[str, Path] = {}
    todo = [m.removeprefix("nlu.") for m in modules]
    while todo:
        name = todo.pop()
        path = NLU_PACKAGE / f"{name}.py"
        if name in seen or not path.exists():
            continue
        seen[name] = path
        for match in _NLU_IMPORT.finditer(path.read_text(encoding="utf-8")):
            found = match.group(1) or match.group(3)
            todo.extend([found] if found else [n.split()[0] for n in match.group(2).split(",") if n.strip()])
    return sorted(seen.values())


def code_fingerprint(modules: list[str], *extra: Path) -> str:
    """Content hash of the code of these modules (code_files) and of `extra` files (data a component reads
    itself): a component's `fingerprint_addon`, so that Rasa retrains it when any of them changes."""
    digest = hashlib.sha256()
    for path in [*code_files(modules), *extra]:
        digest.update(path.name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    return digest.hexdigest()[:16]
