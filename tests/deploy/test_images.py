"""The Dockerfiles: what they copy exists and reaches the image, they run as non-root on the Python
each part needs, and, where a container runtime works, the gateway image builds and its CLI runs."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "deploy" / "gateway.Dockerfile"
NLU = ROOT / "deploy" / "nlu.Dockerfile"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def build_arg(dockerfile: Path, name: str) -> str:
    (value,) = [rest.split("=", 1)[1] for word, rest in instructions(dockerfile)
                if word == "ARG" and rest.startswith(name + "=")]
    return value


def ignored(path: str) -> bool:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    parts = Path(path).parts
    return any(fnmatch.fnmatch(path, pattern.removeprefix("**/")) or parts[0] == pattern for pattern in patterns)


@pytest.mark.parametrize("dockerfile,python", [(GATEWAY, "3.11"), (NLU, "3.10")])
def test_two_stages_and_a_non_root_user(dockerfile, python):
    steps = instructions(dockerfile)
    assert build_arg(dockerfile, "PYTHON_IMAGE").startswith(f"python:{python}-slim")
    assert [rest for word, rest in steps if word == "FROM"] == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]
    final = steps[max(i for i, (word, _) in enumerate(steps) if word == "FROM"):]
    assert not any("build-essential" in rest for _, rest in final)  # compilers stay in the build stage
    (user,) = [rest for word, rest in final if word == "USER"]
    assert int(user.split(":")[0]) >= 1000


def test_the_gateway_image_is_for_the_project_s_python():
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert ">=3.11" in requires and build_arg(GATEWAY, "PYTHON_IMAGE").startswith("python:3.11")


@pytest.mark.parametrize("dockerfile", [GATEWAY, NLU])
def test_everything_copied_is_in_the_build_context(dockerfile):
    for word, rest in instructions(dockerfile):
        if word != "COPY" or rest.startswith("--from"):
            continue
        for source in rest.split()[:-1]:
            assert (ROOT / source).exists(), source
            assert not ignored(source), f"{source} is excluded by .dockerignore"


def test_the_gateway_image_gets_every_package_of_the_project():
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    copied = {rest.split()[0] for word, rest in instructions(GATEWAY) if word == "COPY"}
    assert {name.rstrip("*") for name in packages["include"]} <= copied


def test_the_nlu_image_serves_what_compose_asks_for():
    cmd = [rest for word, rest in instructions(NLU) if word == "CMD"][-1]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert yaml.safe_load(cmd) == compose["services"]["rasa"]["command"]


@pytest.mark.slow
def test_rasa_knows_every_option_the_nlu_image_runs_it_with():
    from nlu.training import rasa_bin, rasa_env

    if not Path(rasa_bin()).exists():
        pytest.skip(f"Rasa is not installed at {rasa_bin()} (make creates .venv-rasa)")
    command = yaml.safe_load([rest for word, rest in instructions(NLU) if word == "CMD"][-1])
    assert command[:2] == ["rasa", "run"]
    helped = subprocess.run([rasa_bin(), "run", "--help"], capture_output=True, text=True, env=rasa_env(), timeout=300)
    assert helped.returncode == 0, helped.stderr[-2000:]
    for option in (word for word in command[2:] if word.startswith("--")):
        assert re.search(rf"(^|[\s,]){option}\b", helped.stdout), option


PACKAGES = ("config", "connectors", "gateway", "nlu", "ticketing")


@pytest.fixture(scope="module")
def build_context(tmp_path_factory) -> tuple[Path, list[str]]:
    """A clean copy of what the gateway image's build stage copies (the tracked files only): a local
    build's leftovers (an egg-info listing files) must not hide what the package data rules miss."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files", *PACKAGES], capture_output=True, text=True, cwd=ROOT).stdout.split()
    source = tmp_path_factory.mktemp("context") / "src"
    for path in [*tracked, "pyproject.toml", "README.md", "requirements.lock"]:
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, source / path)
    return source, tracked


@pytest.mark.slow
def test_the_installed_package_carries_every_file_of_the_source_tree(build_context, tmp_path):
    """The image installs a wheel, not the checkout: a template, static file or migration left out of
    the package data would be missing in production only."""
    source, tracked = build_context
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                            str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    # Documentation beside the code is for readers of the repository.
    missing = [path for path in tracked if path not in names and not path.endswith(".md")]
    assert tracked and not missing


IMPORT_EVERY_MODULE = """
import importlib, importlib.util, pkgutil, re, sys

def runs_inside_rasa(name):
    # Rasa's components (rasa_components, rasa_intent, faq_selector, request_type_model) and what only they
    # use (text_features: scikit-learn) run in Rasa's own environment.
    origin = importlib.util.find_spec(name).origin or ""
    source = open(origin, encoding="utf-8").read() if origin.endswith(".py") else ""
    return re.search(r"^(from|import) (rasa|sklearn)[. ]", source, re.M) is not None

failed = []
for top in sys.argv[1:]:
    for info in pkgutil.walk_packages(importlib.import_module(top).__path__, top + "."):
        if not runs_inside_rasa(info.name):
            try:
                importlib.import_module(info.name)
            except Exception as exc:
                failed.append(f"{info.name}: {type(exc).__name__}: {exc}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


@pytest.mark.slow
def test_the_image_s_install_runs_without_the_test_tools(build_context, tmp_path):
    """The build stage's own pip command (requirements.lock as constraints, so pytest, Playwright and
    the linters stay out), run in a fresh virtualenv: every module imports and the CLI starts, so no
    runtime import leans on a package only the test tools brought in."""
    source, _ = build_context
    (install,) = [rest for word, rest in instructions(GATEWAY) if word == "RUN" and "pip install" in rest]
    pip_command = install.split("&&")[0].split()
    assert pip_command[1:] == ["install", "-c", "requirements.lock", "."]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run([str(venv / "bin" / "pip"), *pip_command[1:], "-q"], cwd=source,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    installed = subprocess.run([str(venv / "bin" / "pip"), "list", "--format=freeze"], capture_output=True, text=True)
    names = {line.split("==")[0].lower() for line in installed.stdout.split()}
    assert not names & {"pytest", "playwright", "import-linter", "hypothesis", "check-jsonschema"}
    ran = subprocess.run([str(venv / "bin" / "hotline"), "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert ran.returncode == 0 and "worker" in ran.stdout, ran.stderr
    imported = subprocess.run([str(venv / "bin" / "python"), "-c", IMPORT_EVERY_MODULE, *PACKAGES],
                              capture_output=True, text=True, cwd=tmp_path)
    assert imported.returncode == 0, imported.stdout + imported.stderr[-2000:]


# --- a container runtime, when this machine has a working one -----------------------------------

# Sandboxes refuse what podman asks by default: crun cannot work with hybrid cgroups and a container
# may not raise its open-file or process limits. runc (when installed) and modest limits run there.
RUNTIME = ["--runtime", "runc"] if shutil.which("runc") else []
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def _podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *RUNTIME, *args], capture_output=True, text=True, timeout=timeout)


def _last_line(done: subprocess.CompletedProcess) -> str:
    return ((done.stderr or done.stdout).strip().splitlines() or ["no output"])[-1]


@pytest.mark.slow
def test_the_gateway_image_builds_and_its_cli_runs():
    if shutil.which("podman") is None:
        pytest.skip("no container runtime: podman is not installed (Debian: apt-get install podman)")
    base = build_arg(GATEWAY, "PYTHON_IMAGE")
    if _podman("image", "exists", base).returncode != 0:
        pulled = _podman("pull", base, timeout=300)
        if pulled.returncode != 0:
            pytest.skip(f"the base image {base} is not here and cannot be pulled: {_last_line(pulled)}")
    probe = _podman("run", "--rm", *LIMITS, base, "true")
    if probe.returncode != 0:
        pytest.skip(f"podman cannot run containers here: {_last_line(probe)}")
    tag = "localhost/pds-12345/gateway:test"
    built = _podman("build", "-f", str(GATEWAY), "-t", tag, str(ROOT), timeout=1800)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    try:
        ran = _podman("run", "--rm", *LIMITS, tag, "hotline", "--help")
        assert ran.returncode == 0, ran.stderr
        assert "worker" in ran.stdout and "feed" in ran.stdout
        user = _podman("run", "--rm", *LIMITS, tag, "id", "-u")
        assert user.stdout.strip() == "10001"
    finally:
        _podman("rmi", "-f", tag)
