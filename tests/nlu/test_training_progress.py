"""The overall training progress `hotline run` and the admin's job show, read from Rasa's output as it comes."""

from __future__ import annotations

from nlu import training


def _done(name: str, cached: bool = False) -> str:
    """The line rasa.engine.training.hooks logs when a component is trained (or restored from Rasa's cache)."""
    if cached:
        return f"2026-12-02 14:10:10 INFO     rasa.engine.training.hooks  - Restored component '{name}' from cache.\n"
    return f"2026-12-02 14:10:10 INFO     rasa.engine.training.hooks  - Finished training component '{name}'.\n"


def _bar(done: int, total: int = 100) -> str:
    """One redraw of an epoch bar as Rasa 3.6 (tqdm) writes it (components of earlier configurations)."""
    return f"\rEpochs: {done * 100 // total:3d}%|{'█' * (done * 10 // total):<10}| {done}/{total} " \
           f"[00:{done:02d}<01:00,  2.23s/it, t_loss=5.12, i_acc=0.0937]"


def test_each_trained_component_moves_the_bar():
    progress = training.TrainingProgress(components=4)
    assert progress.feed("2026-12-02 14:10:00 INFO rasa.engine.training.hooks - Starting to train component "
                         "'JiebaTokenizer'.\n") is None
    assert progress.feed(_done("JiebaTokenizer")) == 0.25
    # One chunk may carry several lines; a component from Rasa's cache counts as trained.
    assert progress.feed(_done("RegexEntityExtractor", cached=True) + _done("FaqSelector")) == 0.75
    assert progress.percent == 75
    assert progress.feed(_done("RequestTypeClassifier")) == 1.0
    assert progress.feed(_done("Unexpected")) == 1.0  # never past the end


def test_an_epoch_bar_fills_its_component_share():
    progress = training.TrainingProgress(components=2)
    assert progress.feed(_bar(0) + _bar(50)) == 0.25
    assert progress.feed(_bar(100)) == 0.5
    assert progress.feed(_done("DIETClassifier")) == 0.5  # the bar's end and the component's end agree
    assert progress.feed(_done("JiebaTokenizer")) == 1.0


def test_the_components_are_counted_from_the_config():
    text = training.CONFIG.read_text(encoding="utf-8")
    assert training.TrainingProgress().components == training.config_components(text) == 6
