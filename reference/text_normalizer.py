"""A small English text normaliser for word error rates (in the spirit of Whisper's, written here).

Whisper writes numbers as digits, keeps punctuation and casing, and spells some words British or
American; references are plain text. Both sides go through :func:`normalize` before ``jiwer.wer``.
"""

from __future__ import annotations

import re
import unicodedata

_ONES = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"),
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SPELLING = {
    "colour": "color",
    "favourite": "favorite",
    "centre": "center",
    "theatre": "theater",
    "grey": "gray",
    "okay": "ok",
    "mr": "mister",
    "mrs": "missus",
    "dr": "doctor",
}
_CONTRACTIONS = {"n't": " not", "'re": " are", "'ll": " will", "'ve": " have", "'m": " am", "'d": " would"}


def number_words(n: int) -> str:
    """English words for 0 <= n < 10000 (digits kept beyond that)."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")
    if n < 10000:
        thousands, rest = divmod(n, 1000)
        return f"{number_words(thousands)} thousand" + (f" {number_words(rest)}" if rest else "")
    return str(n)


def normalize(text: str) -> str:
    """Lower case, no accents or punctuation, numbers as words, common spellings unified."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[\[(<][^\])>]*[\])>]", " ", text)  # [music], (inaudible), <|tokens|>
    for short, long in _CONTRACTIONS.items():
        text = text.replace(short, long)
    text = re.sub(r"(\d),(\d{3})", r"\1\2", text)  # 1,000 -> 1000
    text = re.sub(r"\d+", lambda m: f" {number_words(int(m.group()))} ", text)
    text = re.sub(r"[^a-z' ]+", " ", text).replace("'", "")
    return " ".join(_SPELLING.get(word, word) for word in text.split())


__all__ = ["normalize", "number_words"]
