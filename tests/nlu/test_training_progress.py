"""The overall training progress `hotline run` shows, read from Rasa's epoch bars as they come."""

from __future__ import annotations

from nlu import training


def _bar(done: int, total: int = 100) -> str:
    """One redraw of the bar as Rasa 3.6 (tqdm) writes it on stderr."""
    return f"\rEpochs: {done * 100 // total:3d}%|{'█' * (done * 10 // total):<10}| {done}/{total} " \
           f"[00:{done:02d}<01:00,  2.23s/it, t_loss=5.12, i_acc=0.0937]"


def test_the_two_trained_components_make_one_percentage():
    progress = training.TrainingProgress(bars=2)  # DIET, then the ResponseSelector
    assert progress.feed("2026-12-02 01:00:00 INFO rasa.engine.training.hooks - Starting to train component 'DIET'") \
        is None
    seen = [progress.feed(_bar(done)) for done in range(0, 101, 10)]
    assert seen[0] == 0.0 and seen[-1] == 0.5
    # The ResponseSelector's bar starts again from 0; a chunk may carry several redraws.
    assert progress.feed(_bar(0) + _bar(1) + _bar(37)) == 0.685
    assert progress.percent == 68
    assert progress.feed(_bar(100)) == 1.0


def test_a_component_stopped_early_counts_as_done():
    progress = training.TrainingProgress(bars=2)
    progress.feed(_bar(0) + _bar(25))
    assert progress.fraction == 0.125
    # The bar ends at 25/100; the callback says why (nlu/rasa_components.py).
    assert progress.feed("\nEarly stopping: val_i_acc 0.981 at epoch 15, stopped at epoch 25\n") == 0.5
    assert progress.feed(_bar(0) + _bar(50)) == 0.75  # the ResponseSelector's bar
    assert progress.feed("Early stopping: val_r_acc 0.900 at epoch 80, stopped at epoch 95") == 1.0


def test_the_bars_are_counted_from_the_config():
    assert training.TrainingProgress().bars == len(training.config_epochs(training.CONFIG.read_text(encoding="utf-8")))
