"""Comparison of Vietnamese personal names as different systems spell them.

Names arrive in NFC from some systems and NFD (base letter + combining marks) from others, in
any case and with stray whitespace. Beyond that, Vietnamese has two accepted placements of the
tone mark in open syllables ending in "oa", "oe" and "uy" ("Thủy"/"Thuỷ", "Hòa"/"Hoà",
"Khỏe"/"Khoẻ"); registries use both, so matching treats them as the same name. Diacritics are
otherwise significant: "Nguyễn Thị Hồng" and "Nguyen Thi Hong" do not match.
"""

import re
import unicodedata

# The five Vietnamese tone marks as combining characters (NFD).
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
# An open syllable whose tone mark may sit on either vowel: consonant onset + oa/oe/uy.
_MOVABLE_TONE_SYLLABLE = re.compile(r"([bcdđghklmnprstvx]*)(oa|oe|uy)")


def normalize_name(name: str) -> str:
    """Normalise a name for comparison: NFC, casefold, single spaces, no outer whitespace."""
    folded = unicodedata.normalize("NFC", name).casefold()
    # Case folding can leave decomposed sequences behind, so compose again.
    return " ".join(unicodedata.normalize("NFC", folded).split())


def name_match_key(name: str) -> str:
    """Return the key two spellings of one name share: normalised, tone placement unified."""
    return " ".join(_canonical_tone_placement(word) for word in normalize_name(name).split(" "))


def names_match(a: str, b: str) -> bool:
    """Tell whether two spellings denote the same name."""
    return name_match_key(a) == name_match_key(b)


def _canonical_tone_placement(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    tones = [ch for ch in decomposed if ch in _TONE_MARKS]
    if len(tones) != 1:
        return word
    bare = "".join(ch for ch in decomposed if ch not in _TONE_MARKS)
    syllable = _MOVABLE_TONE_SYLLABLE.fullmatch(bare)
    # "qu" is a consonant onset ("quý"), so its "uy" is not a movable-tone diphthong.
    if syllable is None or syllable.group(1).endswith("q"):
        return word
    onset, vowels = syllable.groups()
    return unicodedata.normalize("NFC", f"{onset}{vowels[0]}{tones[0]}{vowels[1]}")
