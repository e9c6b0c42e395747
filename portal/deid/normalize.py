"""Full-width to ASCII folding that keeps every offset valid in the original text.

Each full-width form (``１３８``, ``ＡＢ``, ``＠``, ``（``) folds to exactly one ASCII
character, so the offset map from the folded text back to the original is the identity:
detectors scan the folded text and their offsets slice the original directly.
"""
import re

# Only alphanumerics and '@' decide whether folding is needed: Chinese text is full of
# full-width punctuation (，：（）) and folding it alone would change no detection.
_NEEDS_FOLDING = re.compile("[\uff10-\uff19\uff20-\uff3a\uff41-\uff5a]")
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FOLD[0x3000] = ord(" ")
_FOLDABLE = re.compile("[\uff01-\uff5e\u3000]+")


def fold(text: str) -> str:
    """*text* with full-width ASCII forms folded, same length, or *text* itself if none."""
    if _NEEDS_FOLDING.search(text) is None:
        return text
    # Only the runs of full-width forms go through str.translate: over a whole Chinese
    # text it looks up every character, and costs about four times as much.
    return _FOLDABLE.sub(_fold_run, text)


def _fold_run(match: re.Match) -> str:
    return match.group().translate(_FOLD)
