"""A proportional 5x8 pixel font for text on LED canvases.

LED facades are a few dozen pixels high, where outline fonts blur into mush; signs use bitmap
fonts with whole pixels on or off, as this one is. Capitals and digits are 7 rows high, lower
case has a 5-row x-height and descenders in row 8. Glyphs are drawn below as rows of ``#``
(lit) and ``.`` (dark) and trimmed to their own width; one dark column separates letters.

French lower-case accents (é è ê ë à â ä ç î ï ô ö ù û ü ÿ) are composed from the letter and an
accent above it. Capitals have no room above them in 7 rows: an accented capital is shown
as its plain letter, as engraved and LED signage commonly does.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["GLYPHS", "HEIGHT", "UnknownCharacter", "glyph", "text_bitmap"]

HEIGHT: Final = 8
SPACE_WIDTH: Final = 3
LETTER_SPACING: Final = 1

_DRAWN: Final = r"""
= !
#
#
#
#
#
.
#
= "
#.#
#.#
#.#
= #
.#.#.
.#.#.
#####
.#.#.
#####
.#.#.
.#.#.
= $
..#..
.####
#.#..
.###.
..#.#
####.
..#..
= %
##...
##..#
...#.
..#..
.#...
#..##
...##
= &
.##..
#..#.
#.#..
.#...
#.#.#
#..#.
.##.#
= '
#
#
#
= (
..#
.#.
#..
#..
#..
.#.
..#
= )
#..
.#.
..#
..#
..#
.#.
#..
= *
.....
..#..
#.#.#
.###.
#.#.#
..#..
.....
= +
.....
..#..
..#..
#####
..#..
..#..
.....
= ,
..
..
..
..
..
.#
.#
#.
= -
....
....
....
####
....
....
....
= .
.
.
.
.
.
.
#
= /
.....
....#
...#.
..#..
.#...
#....
.....
= 0
.###.
#...#
#..##
#.#.#
##..#
#...#
.###.
= 1
.#.
##.
.#.
.#.
.#.
.#.
###
= 2
.###.
#...#
....#
...#.
..#..
.#...
#####
= 3
#####
...#.
..#..
...#.
....#
#...#
.###.
= 4
...#.
..##.
.#.#.
#..#.
#####
...#.
...#.
= 5
#####
#....
####.
....#
....#
#...#
.###.
= 6
..##.
.#...
#....
####.
#...#
#...#
.###.
= 7
#####
....#
...#.
..#..
.#...
.#...
.#...
= 8
.###.
#...#
#...#
.###.
#...#
#...#
.###.
= 9
.###.
#...#
#...#
.####
....#
...#.
.##..
= :
.
.
#
.
#
.
.
= ;
..
..
.#
..
.#
.#
#.
= <
...#
..#.
.#..
#...
.#..
..#.
...#
= =
....
....
####
....
####
....
....
= >
#...
.#..
..#.
...#
..#.
.#..
#...
= ?
.###.
#...#
....#
...#.
..#..
.....
..#..
= @
.###.
#...#
#.###
#.#.#
#.##.
#....
.####
= A
.###.
#...#
#...#
#####
#...#
#...#
#...#
= B
####.
#...#
#...#
####.
#...#
#...#
####.
= C
.###.
#...#
#....
#....
#....
#...#
.###.
= D
###..
#..#.
#...#
#...#
#...#
#..#.
###..
= E
#####
#....
#....
####.
#....
#....
#####
= F
#####
#....
#....
####.
#....
#....
#....
= G
.###.
#...#
#....
#.###
#...#
#...#
.####
= H
#...#
#...#
#...#
#####
#...#
#...#
#...#
= I
###
.#.
.#.
.#.
.#.
.#.
###
= J
..###
...#.
...#.
...#.
...#.
#..#.
.##..
= K
#...#
#..#.
#.#..
##...
#.#..
#..#.
#...#
= L
#....
#....
#....
#....
#....
#....
#####
= M
#...#
##.##
#.#.#
#.#.#
#...#
#...#
#...#
= N
#...#
#...#
##..#
#.#.#
#..##
#...#
#...#
= O
.###.
#...#
#...#
#...#
#...#
#...#
.###.
= P
####.
#...#
#...#
####.
#....
#....
#....
= Q
.###.
#...#
#...#
#...#
#.#.#
#..#.
.##.#
= R
####.
#...#
#...#
####.
#.#..
#..#.
#...#
= S
.####
#....
#....
.###.
....#
....#
####.
= T
#####
..#..
..#..
..#..
..#..
..#..
..#..
= U
#...#
#...#
#...#
#...#
#...#
#...#
.###.
= V
#...#
#...#
#...#
#...#
#...#
.#.#.
..#..
= W
#...#
#...#
#...#
#.#.#
#.#.#
#.#.#
.#.#.
= X
#...#
#...#
.#.#.
..#..
.#.#.
#...#
#...#
= Y
#...#
#...#
.#.#.
..#..
..#..
..#..
..#..
= Z
#####
....#
...#.
..#..
.#...
#....
#####
= [
###
#..
#..
#..
#..
#..
###
= \
.....
#....
.#...
..#..
...#.
....#
.....
= ]
###
..#
..#
..#
..#
..#
###
= ^
..#..
.#.#.
#...#
.....
.....
.....
.....
= _
.....
.....
.....
.....
.....
.....
#####
= `
#.
.#
..
= {
..#
.#.
.#.
#..
.#.
.#.
..#
= |
#
#
#
#
#
#
#
= }
#..
.#.
.#.
..#
.#.
.#.
#..
= ~
.....
.....
.#...
#.#.#
...#.
.....
.....
= a
.....
.....
.###.
....#
.####
#...#
.####
= b
#....
#....
#.##.
##..#
#...#
#...#
####.
= c
....
....
.###
#...
#...
#...
.###
= d
....#
....#
.##.#
#..##
#...#
#...#
.####
= e
.....
.....
.###.
#...#
#####
#....
.###.
= f
..##
.#..
####
.#..
.#..
.#..
.#..
= g
.....
.....
.####
#...#
#...#
.####
....#
.###.
= h
#....
#....
#.##.
##..#
#...#
#...#
#...#
= i
#
.
#
#
#
#
#
= j
..#
...
..#
..#
..#
..#
#.#
.#.
= k
#...
#...
#..#
#.#.
##..
#.#.
#..#
= l
##.
.#.
.#.
.#.
.#.
.#.
###
= m
.....
.....
##.#.
#.#.#
#.#.#
#.#.#
#.#.#
= n
.....
.....
#.##.
##..#
#...#
#...#
#...#
= o
.....
.....
.###.
#...#
#...#
#...#
.###.
= p
.....
.....
####.
#...#
#...#
####.
#....
#....
= q
.....
.....
.####
#...#
#...#
.####
....#
....#
= r
.....
.....
#.##.
##..#
#....
#....
#....
= s
....
....
.###
#...
.##.
...#
###.
= t
.#..
.#..
####
.#..
.#..
.#..
..##
= u
.....
.....
#...#
#...#
#...#
#..##
.##.#
= v
.....
.....
#...#
#...#
#...#
.#.#.
..#..
= w
.....
.....
#...#
#...#
#.#.#
#.#.#
.#.#.
= x
.....
.....
#...#
.#.#.
..#..
.#.#.
#...#
= y
.....
.....
#...#
#...#
#...#
.####
....#
.###.
= z
.....
.....
#####
...#.
..#..
.#...
#####
"""

# Accents over a lower-case letter: two rows, centred over a 5-wide letter.
_ACCENTS: Final[Mapping[str, tuple[str, str]]] = {
    "\u0301": ("...#.", "..#.."),  # acute
    "\u0300": (".#...", "..#.."),  # grave
    "\u0302": ("..#..", ".#.#."),  # circumflex
    "\u0308": (".#.#.", "....."),  # diaeresis
}
# Lower-case letters whose accented forms are composed (the rest are drawn whole below).
_COMPOSABLE: Final = frozenset("aeouy")
_DRAWN_ACCENTED: Final[Mapping[str, tuple[str, ...]]] = {
    "î": (".#.", "#.#", "...", ".#.", ".#.", ".#.", ".#."),
    "ï": ("#.#", "...", "...", ".#.", ".#.", ".#.", ".#."),
    "ç": ("....", "....", ".###", "#...", "#...", "#...", ".###", "..#."),
    "œ": (
        ".........",
        ".........",
        ".##...##.",
        "#..#.#..#",
        "#..###.##",
        "#..#.#...",
        ".##...###",
    ),
    "°": (".#.", "#.#", ".#."),
    "€": ("..###", ".#...", "####.", ".#...", "####.", ".#...", "..###"),
    "«": ("......", "......", "..#..#", ".#..#.", "#..#..", ".#..#.", "..#..#"),
    "»": ("......", "......", "#..#..", ".#..#.", "..#..#", ".#..#.", "#..#.."),
}


class UnknownCharacter(ValueError):
    """The text has a character the font does not draw."""


def _bitmap(rows: tuple[str, ...] | list[str]) -> NDArray[np.bool_]:
    width = len(rows[0])
    out = np.zeros((HEIGHT, width), dtype=np.bool_)
    for y, row in enumerate(rows):
        out[y] = [c == "#" for c in row]
    out.flags.writeable = False
    return out


def _parse(drawn: str) -> dict[str, NDArray[np.bool_]]:
    glyphs: dict[str, NDArray[np.bool_]] = {" ": _bitmap(["." * SPACE_WIDTH])}
    for block in drawn.strip("\n").split("= ")[1:]:
        char, *rows = block.rstrip("\n").split("\n")
        glyphs[char] = _bitmap(rows)
    for char, drawn_rows in _DRAWN_ACCENTED.items():
        glyphs[char] = _bitmap(drawn_rows)
    for base in _COMPOSABLE:
        for mark, accent in _ACCENTS.items():
            char = unicodedata.normalize("NFC", base + mark)
            if len(char) != 1 or char in glyphs:
                continue
            bitmap = glyphs[base].copy()
            bitmap[0:2] = _bitmap(list(accent))[0:2]
            bitmap.flags.writeable = False
            glyphs[char] = bitmap
    return glyphs


GLYPHS: Final[Mapping[str, NDArray[np.bool_]]] = MappingProxyType(_parse(_DRAWN))


def glyph(char: str) -> NDArray[np.bool_]:
    """The bitmap of one character (HEIGHT rows, its own width)."""
    found = GLYPHS.get(char)
    if found is None:
        # An accented capital (or any letter with marks) falls back to its plain letter.
        plain = unicodedata.normalize("NFD", char)[:1]
        found = GLYPHS.get(plain) if plain != char else None
    if found is None:
        name = unicodedata.name(char, "unnamed")
        raise UnknownCharacter(f"no glyph for {char!r} (U+{ord(char):04X} {name})")
    return found


def text_bitmap(text: str) -> NDArray[np.bool_]:
    """The text as lit pixels, HEIGHT rows; letters one dark column apart. Empty text is
    zero columns wide."""
    parts = [glyph(c) for c in unicodedata.normalize("NFC", text)]
    if not parts:
        return np.zeros((HEIGHT, 0), dtype=np.bool_)
    gap = np.zeros((HEIGHT, LETTER_SPACING), dtype=np.bool_)
    pieces: list[NDArray[np.bool_]] = []
    for i, part in enumerate(parts):
        if i:
            pieces.append(gap)
        pieces.append(part)
    return np.concatenate(pieces, axis=1)
