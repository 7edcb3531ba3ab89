"""Train the Rasa NLU model, cached by a content hash of everything that defines it.

A model is named `nlu-<hash>.tar.gz` where the hash covers nlu/config.yml, every file under
nlu/data/ and nlu/jieba_dict/ (and nlu/domain.yml if there is one). So `ensure_model()` retrains only
when the training data really changed, and the test suite, `make run` and CI on the same machine share
one model. Models live outside the clone: `~/.cache/hotline-nlu/models`, or `$HOTLINE_NLU_MODEL_DIR`.

Rasa runs from its own virtualenv (Python 3.10): `$HOTLINE_RASA_BIN`, default `<repo>/.venv-rasa/bin/rasa`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

from nlu.code_fingerprint import code_files, pipeline_modules

NLU_DIR = Path(__file__).resolve().parent
REPO_ROOT = NLU_DIR.parent
CONFIG = NLU_DIR / "config.yml"
DATA_DIR = NLU_DIR / "data"
DICT_DIR = NLU_DIR / "jieba_dict"
DOMAIN = NLU_DIR / "domain.yml"
MODEL_PREFIX = "nlu-"


class TrainingError(RuntimeError):
    """`rasa train nlu` failed; the message carries the tail of its output."""


def rasa_bin() -> str:
    return os.environ.get("HOTLINE_RASA_BIN") or str(REPO_ROOT / ".venv-rasa" / "bin" / "rasa")


def model_cache_dir() -> Path:
    path = Path(os.environ.get("HOTLINE_NLU_MODEL_DIR") or Path.home() / ".cache" / "hotline-nlu" / "models")
    path.mkdir(parents=True, exist_ok=True)
    return path


def rasa_env() -> dict[str, str]:
    """Environment for every Rasa process: no telemetry (no network here), quiet TensorFlow,
    Rasa's component cache outside the clone (it defaults to ./.rasa in the working directory), and
    the repository on PYTHONPATH for the custom component."""
    env = dict(os.environ)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("RASA_CACHE_DIRECTORY", str(model_cache_dir().parent / "rasa-cache"))
    env.setdefault("PYTHONWARNINGS", "ignore")
    # The pipeline has a custom component (nlu.rasa_components): Rasa must be able to import it.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


def _model_inputs(nlu_dir: Path = NLU_DIR) -> list[Path]:
    """What a model is made of: config, data, dictionary, and the code of the pipeline's own components."""
    files = [nlu_dir / CONFIG.name]
    if (nlu_dir / DOMAIN.name).exists():
        files.append(nlu_dir / DOMAIN.name)
    for folder in (nlu_dir / DATA_DIR.name, nlu_dir / DICT_DIR.name):
        files.extend(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    return sorted(files) + code_files(pipeline_modules((nlu_dir / CONFIG.name).read_text(encoding="utf-8")))


def data_hash(nlu_dir: Path | None = None) -> str:
    """Content hash of config + training data + dictionary + the pipeline components' code (12 hex digits).

    `nlu_dir`: another folder laid out like nlu/ (config.yml, data/, jieba_dict/), e.g. the project the
    admin pages export from the database working copy; default the repository's nlu/.
    """
    nlu_dir = nlu_dir or NLU_DIR
    digest = hashlib.sha256()
    for path in _model_inputs(nlu_dir):
        digest.update(str(path.relative_to(nlu_dir) if path.is_relative_to(nlu_dir) else path.name).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def model_name(hash_: str | None = None) -> str:
    return f"{MODEL_PREFIX}{hash_ or data_hash()}"


def find_model(hash_: str | None = None) -> Path | None:
    """The cached model trained on exactly the current data, if any."""
    hash_ = hash_ or data_hash()
    candidates = sorted(
        (p for p in model_cache_dir().glob("*.tar.gz") if hash_ in p.name),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    return candidates[0] if candidates else None


def latest_model() -> Path | None:
    """The most recently trained model of any data (for tools that accept a stale model)."""
    models = sorted(model_cache_dir().glob(f"{MODEL_PREFIX}*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


@contextlib.contextmanager
def _train_lock() -> Iterator[None]:
    """One training at a time per cache (tests, `make run` and CI may start together)."""
    with open(model_cache_dir() / ".train.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("[nlu] another process is training a model (make test, CI, a second launcher): waiting for it",
                  file=sys.stderr, flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class TrainingProgress:
    """Overall progress of one `rasa train nlu`, read from the child's output as it comes: the
    pipeline's trained components as Rasa logs each one's end (or its restoration from Rasa's
    cache), and inside a component that trains in epochs (none in today's pipeline; DIET and the
    ResponseSelector of earlier configurations) its epoch bar.

    tqdm redraws a bar with carriage returns ("Epochs:  45%|####5     | 45/100 [...]").
    """

    def __init__(self, components: int | None = None) -> None:
        self.components = max(1, components if components is not None
                              else config_components(CONFIG.read_text(encoding="utf-8")))
        self.done = 0
        self.bar = 0.0  # the running component's epoch bar, 0..1
        self.fraction = 0.0

    def feed(self, chunk: str) -> float | None:
        """The overall fraction (0..1) after a chunk of output, or None when it says nothing new."""
        changed = False
        for match in _PROGRESS_EVENT.finditer(chunk):
            if match.group("component") is not None:
                self.done = min(self.done + 1, self.components)
                self.bar = 0.0
            else:
                self.bar = int(match.group("done")) / max(int(match.group("total")), 1)
            self.fraction = min(1.0, (self.done + self.bar) / self.components)
            changed = True
        return self.fraction if changed else None

    @property
    def percent(self) -> int:
        return int(self.fraction * 100)


ProgressCallback = Callable[[float], None]
_RUNNING: set[subprocess.Popen] = set()  # trainings of this process, for stop_trainings()


def stop_trainings() -> None:
    """End the trainings this process runs (the launcher stops while the first training runs)."""
    for proc in list(_RUNNING):
        if proc.poll() is None:
            proc.terminate()


def _run_training(cmd: list[str], *, progress: bool, on_progress: ProgressCallback | None) -> tuple[int, str]:
    """Run `rasa train nlu`, following its epoch bars; returns (exit code, the tail of its output).

    The output goes through a pipe read here (never left unread: a full pipe would stall Rasa). On the
    terminal (`progress`) one line per step of 5 % replaces Rasa's redrawn bars and warnings.
    """
    tracker = TrainingProgress()
    tail: list[str] = []
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=rasa_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    _RUNNING.add(proc)
    try:
        returncode = _follow(proc, tracker, tail, progress=progress, on_progress=on_progress)
    finally:
        _RUNNING.discard(proc)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return returncode, "\n".join(line for line in tail if line.strip())


def _follow(proc: subprocess.Popen, tracker: TrainingProgress, tail: list[str], *, progress: bool,
            on_progress: ProgressCallback | None) -> int:
    shown = -1
    assert proc.stdout is not None
    with proc.stdout:
        while chunk := proc.stdout.read1(4096):  # type: ignore[attr-defined]
            text = chunk.decode("utf-8", errors="replace")
            tail[:] = (tail + re.split(r"[\r\n]+", text))[-200:]
            fraction = tracker.feed(text)
            if fraction is None:
                continue
            if on_progress is not None:
                on_progress(fraction)
            if progress and tracker.percent // 5 != shown:
                shown = tracker.percent // 5
                print(f"[nlu] training {tracker.percent:3d} %  ({tracker.done}/{tracker.components} components)",
                      file=sys.stderr, flush=True)
    return proc.wait()


def train(progress: bool = True, on_progress: ProgressCallback | None = None) -> Path:
    """Run `rasa train nlu` and return the model path.

    With `progress`, the terminal shows the overall percentage as the epochs go; `on_progress` is
    called with the overall fraction (0..1) at each epoch (the launcher's /healthz shows it). Rasa's
    raw output is kept and shown only if training fails. The model is written to a temporary folder
    first and moved into the cache when complete, so a half-written file can never be picked up by
    `find_model()`.
    """
    hash_ = data_hash()
    cache = model_cache_dir()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="train-", dir=cache) as tmp:
        cmd = [
            rasa_bin(), "train", "nlu",
            "--config", str(CONFIG.relative_to(REPO_ROOT)),
            "--nlu", str(DATA_DIR.relative_to(REPO_ROOT)),
            "--out", tmp,
            "--fixed-model-name", model_name(hash_),
        ]  # fmt: skip
        if progress:
            print(f"[nlu] training model {model_name(hash_)} (data hash {hash_}) ...", file=sys.stderr, flush=True)
        # cwd = repo root: config.yml names the jieba dictionary relative to it.
        returncode, output = _run_training(cmd, progress=progress, on_progress=on_progress)
        produced = list(Path(tmp).glob("*.tar.gz"))
        if returncode != 0 or not produced:
            tail = "\n".join(output.splitlines()[-40:])
            raise TrainingError(f"rasa train nlu failed (exit {returncode})\n{tail}")
        target = cache / f"{model_name(hash_)}.tar.gz"
        shutil.move(str(produced[0]), target)
    seconds = time.monotonic() - started
    # Side-car with the training time (bench/nlu.py reports it without retraining).
    target.with_name(target.name.removesuffix(".tar.gz") + ".json").write_text(
        json.dumps({"model": target.name, "data_hash": hash_, "train_seconds": round(seconds, 1),
                    "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}),
        encoding="utf-8",
    )
    if progress:
        print(f"[nlu] model {target} trained in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return target


def training_info(model: Path) -> dict | None:
    """What train() recorded about a model (training time), if anything."""
    info = model.with_name(model.name.removesuffix(".tar.gz") + ".json")
    try:
        return json.loads(info.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def ensure_model(progress: bool = True, on_progress: ProgressCallback | None = None) -> Path:
    """The model for the current data: from the cache, or trained now (once, even if called in parallel)."""
    found = find_model()
    if found:
        return found
    with _train_lock():
        found = find_model()  # trained by another process while we waited for the lock
        return found or train(progress=progress, on_progress=on_progress)


# --------------------------------------------------------------------------- exported projects (admin training)

EPOCHS_ENV = "HOTLINE_NLU_TRAIN_EPOCHS"
_EPOCHS_LINE = re.compile(r"^(?P<indent>[ \t]+)epochs:[ \t]*\d+", re.MULTILINE)
# A redraw of an epoch bar, or Rasa's line for a trained (or cache-restored) component
# (rasa.engine.training.hooks).
_PROGRESS_EVENT = re.compile(r"Epochs:\s*\d+%\|[^|]*\|\s*(?P<done>\d+)/(?P<total>\d+)"
                             r"|(?P<component>(?:Finished training|Restored) component '[^']+')")
# Pipeline components that Rasa runs but does not train (no line in its log).
UNTRAINED_COMPONENTS = frozenset({"FallbackClassifier"})


def epochs_setting() -> int | None:
    """$HOTLINE_NLU_TRAIN_EPOCHS: train every component that trains in epochs for that many instead of config.yml's
    (quick trials; a model trained so is named by its own data hash). Today's pipeline has no such component."""
    raw = os.environ.get(EPOCHS_ENV, "").strip()
    if not raw:
        return None
    value = int(raw)
    if value < 1:
        raise ValueError(f"{EPOCHS_ENV} must be a positive number of epochs")
    return value


def config_text(epochs: int | None = None) -> str:
    """nlu/config.yml, with every `epochs:` set to `epochs` if given (today's pipeline has none)."""
    text = CONFIG.read_text(encoding="utf-8")
    if epochs is None:
        return text
    return _EPOCHS_LINE.sub(lambda m: f"{m.group('indent')}epochs: {int(epochs)}", text)


def config_components(text: str) -> int:
    """How many components of a config's pipeline Rasa trains."""
    pipeline = (yaml.safe_load(text) or {}).get("pipeline") or []
    return sum(1 for item in pipeline if str(item.get("name")) not in UNTRAINED_COMPONENTS)


def config_epochs(text: str) -> list[int]:
    return [int(m.group(0).split(":")[1]) for m in _EPOCHS_LINE.finditer(text)]


def write_project(root: Path, config: str, data_files: dict[str, str],
                  label_files: dict[str, str] | None = None) -> Path:
    """Lay out a training project under `root`: root/nlu/{config.yml, data/nlu/<data_files>,
    data/<label_files>, jieba_dict/}.

    Rasa runs with cwd = root, so config.yml's `dictionary_path: nlu/jieba_dict` (and the request-type
    model's operators' corrections, nlu/data/request_types_corrections.tsv) resolve inside the project;
    label files are not Rasa's NLU data, hence beside data/nlu/. Both are hashed (data_hash). Returns
    root/nlu (pass it to data_hash())."""
    nlu_dir = Path(root) / "nlu"
    data = nlu_dir / DATA_DIR.name / "nlu"
    data.mkdir(parents=True, exist_ok=True)
    (nlu_dir / CONFIG.name).write_text(config, encoding="utf-8")
    for name, text in data_files.items():
        (data / name).write_text(text, encoding="utf-8")
    for name, text in (label_files or {}).items():
        (data.parent / name).write_text(text, encoding="utf-8")
    shutil.copytree(DICT_DIR, nlu_dir / DICT_DIR.name, dirs_exist_ok=True)
    return nlu_dir


def train_command(nlu_dir: Path, out_dir: Path, name: str) -> list[str]:
    """`rasa train nlu` for a project written by write_project() (run it with cwd = nlu_dir.parent)."""
    return [
        rasa_bin(), "train", "nlu",
        "--config", str(Path(nlu_dir.name) / CONFIG.name),
        "--nlu", str(Path(nlu_dir.name) / DATA_DIR.name),
        "--out", str(out_dir),
        "--fixed-model-name", name,
    ]  # fmt: skip


def write_training_info(target: Path, hash_: str, seconds: float, **extra: object) -> None:
    target.with_name(target.name.removesuffix(".tar.gz") + ".json").write_text(
        json.dumps({"model": target.name, "data_hash": hash_, "train_seconds": round(seconds, 1),
                    "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}),
        encoding="utf-8",
    )
