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


def fold(text: str) -> str:
    """*text* with full-width ASCII forms folded, same length, or *text* itself if none."""
    if _NEEDS_FOLDING.search(text) is None:
        return text
    return text.translate(_FOLD)
