"""Where each box's label is drawn on the page overlay, so that it covers no other box. Pure.

A label shows while its box or row is hovered or selected. Fields printed on consecutive lines have their
boxes a line apart, so a label drawn above its box lands on the box of the line above (the plate's label on
the date, in the first screenshots). Each label takes the first place around its box, in the order a reader
expects (above, below, right, left, inside), that stays on the page and clear of every other box; if
none is clear, the one covering least. Label widths are estimated from the text (the server cannot measure
the browser's font), generously, so a clear place is clear on screen too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from service.review.display import Box
from service.review.scale import Size

FONT_PER_PAGE_WIDTH = 1 / 60  # a label's font size, as a share of the page's width
CHAR_WIDTH = 0.64  # average advance of a bold sans-serif character, in font sizes (a little above)
ASCENT, DESCENT = 0.8, 0.25  # above and below the baseline, in font sizes
GAP = 0.3  # between a box and its label, in font sizes
OFF_PAGE_WEIGHT = 4.0


@dataclass(frozen=True)
class Label:
    x: float
    y: float  # the text's baseline
    anchor: Literal["start", "end"]
    where: Literal["above", "below", "right", "left", "inside"]


@dataclass(frozen=True)
class LabelledBox:
    box: Box
    label: Label | None  # None for another reading of a field: it has no label


@dataclass(frozen=True)
class Rect:
    left: float
    top: float
    right: float
    bottom: float

    def overlap(self, other: Rect) -> float:
        width = min(self.right, other.right) - max(self.left, other.left)
        height = min(self.bottom, other.bottom) - max(self.top, other.top)
        return width * height if width > 0 and height > 0 else 0.0

    def area(self) -> float:
        return (self.right - self.left) * (self.bottom - self.top)


def label_font(size: Size) -> float:
    return round(size[0] * FONT_PER_PAGE_WIDTH, 1)


def place_labels(boxes: Sequence[Box], size: Size) -> list[LabelledBox]:
    """Every box with where its label goes (in the boxes' own coordinates, `size` being the page)."""
    font = label_font(size)
    rects = [Rect(b.x, b.y, b.x + b.width, b.y + b.height) for b in boxes]
    placed = []
    for index, box in enumerate(boxes):
        others = rects[:index] + rects[index + 1 :]
        placed.append(LabelledBox(box, None if box.candidate else _place(box, others, size, font)))
    return placed


def _place(box: Box, others: list[Rect], size: Size, font: float) -> Label:
    page = Rect(0.0, 0.0, size[0], size[1])
    best: tuple[float, Label] | None = None
    for label in _choices(box, font):
        area = label_rect(label, box.label, font)
        off_page = area.area() - area.overlap(page)
        covered = sum(area.overlap(other) for other in others)
        if off_page <= 0 and covered == 0:
            return label
        cost = covered + OFF_PAGE_WEIGHT * off_page  # a label cut off is worse than one over a box
        if best is None or cost < best[0]:
            best = (cost, label)
    assert best is not None  # there is always a choice
    return best[1]


def _choices(box: Box, font: float) -> list[Label]:
    gap = GAP * font
    right, bottom = box.x + box.width, box.y + box.height
    middle = box.y + box.height / 2 + (ASCENT - DESCENT) * font / 2
    return [
        Label(box.x, box.y - gap - DESCENT * font, "start", "above"),
        Label(box.x, bottom + gap + ASCENT * font, "start", "below"),
        Label(right + gap, middle, "start", "right"),
        Label(box.x - gap, middle, "end", "left"),
        Label(box.x + gap, box.y + gap + ASCENT * font, "start", "inside"),
    ]


def label_rect(label: Label, text: str, font: float) -> Rect:
    width = len(text) * CHAR_WIDTH * font
    left = label.x - width if label.anchor == "end" else label.x
    return Rect(left, label.y - ASCENT * font, left + width, label.y + DESCENT * font)
