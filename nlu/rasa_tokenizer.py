"""The pipeline's tokenizer: Rasa's JiebaTokenizer with each user dictionary loaded into jieba once.

Only Rasa and jieba may be imported here: this module runs inside .venv-rasa, never in the gateway.

jieba's `load_userdict` adds every word's frequency to the dictionary's total again on each call, and the
total weighs every cut: a second load of the same dictionary changes how later texts are cut (「从来没开过」
cut as 从来/没开/过 after one load, 从来没/开/过 after two). Rasa's JiebaTokenizer loads its dictionaries
into the process-wide jieba each time the component is created or loaded: once per training node, again
for each model a running server loads. So a model came out differently with and without Rasa's cache (the
request-type model's labelled messages, cut by `text_words`, after one load or after two: 89.5 against
89.3 % held-out with the same data), and a server's cuts drifted from the training's after a model was
swapped in. Here a dictionary is loaded once per process, whoever asks first.
"""

from __future__ import annotations

import glob
import hashlib
import logging
from pathlib import Path
from typing import Set, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer

logger = logging.getLogger(__name__)

_loaded: Set[str] = set()  # sha256 of the user dictionaries loaded into jieba's default tokenizer
# Files already looked at: `text_words` asks for every text it cuts, and must not read and hash the file each time.
_seen: Set[Path] = set()


def load_user_dictionaries(path: Path | Text) -> None:
    """Load a user dictionary file, or every file of a folder (as Rasa does), into jieba unless this process
    already loaded the same content."""
    import jieba

    target = Path(path).resolve()
    if target in _seen:
        return
    files = [Path(p) for p in sorted(glob.glob(f"{target}/*"))] if target.is_dir() else [target]
    for file in files:
        if not file.is_file():
            continue
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        if digest in _loaded:
            continue
        jieba.setLogLevel(logging.WARNING)
        jieba.load_userdict(str(file))
        _loaded.add(digest)
        logger.info("jieba user dictionary %s loaded", file)
    _seen.add(target)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class OnceLoadedJiebaTokenizer(JiebaTokenizer):
    """JiebaTokenizer whose user dictionaries are loaded into jieba once per process."""

    @staticmethod
    def _load_custom_dictionary(path: Text) -> None:
        load_user_dictionaries(path)
