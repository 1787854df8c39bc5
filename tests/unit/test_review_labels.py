"""service.review.labels: a box's label is drawn where it covers no other box."""

from __future__ import annotations

from service.review.display import Box
from service.review.labels import Rect, label_font, label_rect, place_labels
from tests.support import EMULATOR_PAGE_PIXELS, bad_plate_receipt

PAGE = (1240.0, 1754.0)


def box(label: str, x: float, y: float, width: float = 200, height: float = 30, **extra: bool) -> Box:
    return Box(label, x, y, width, height, "ok", **extra)


def rect(item: Box) -> Rect:
    return Rect(item.x, item.y, item.x + item.width, item.y + item.height)


def test_a_label_goes_above_its_box_when_there_is_room() -> None:
    [placed] = place_labels([box("total", 100, 400)], PAGE)
    assert placed.label is not None and placed.label.where == "above"
    area = label_rect(placed.label, "total", label_font(PAGE))
    assert area.bottom <= 400 and area.left == 100


def test_labels_of_boxes_on_consecutive_lines_cover_no_other_box() -> None:
    """The sample receipt whose plate label covered the date in the old screenshot."""
    _, [printed] = bad_plate_receipt(EMULATOR_PAGE_PIXELS)
    boxes = [
        box(b["label"], b["xmin"], b["ymin"], b["xmax"] - b["xmin"], b["ymax"] - b["ymin"]) for b in printed
    ]
    placed = place_labels(boxes, PAGE)
    font = label_font(PAGE)
    for item in placed:
        assert item.label is not None
        area = label_rect(item.label, item.box.label, font)
        assert all(area.overlap(rect(other)) == 0 for other in boxes if other is not item.box), item
        assert area.left >= 0 and area.right <= PAGE[0] and area.top >= 0 and area.bottom <= PAGE[1]
    plate = next(item for item in placed if item.box.label == "matricula")
    assert plate.label is not None and plate.label.where != "above"  # the date's box is there


def test_a_box_hemmed_in_above_and_below_takes_the_side_with_room() -> None:
    boxes = [box("upper", 100, 360), box("plate", 100, 400), box("lower", 100, 440)]
    placed = place_labels(boxes, PAGE)
    assert placed[1].label is not None and placed[1].label.where == "right"
    at_right_edge = [box("upper", 1040, 360), box("plate", 1040, 400), box("lower", 1040, 440)]
    placed = place_labels(at_right_edge, PAGE)
    assert placed[1].label is not None and placed[1].label.where == "left"  # never cut off by the page
    assert placed[1].label.anchor == "end"


def test_a_label_at_the_top_of_the_page_goes_below() -> None:
    [placed] = place_labels([box("numero", 100, 2)], PAGE)
    assert placed.label is not None and placed.label.where == "below"


def test_another_reading_has_no_label_but_keeps_labels_off_it() -> None:
    other = box("total", 100, 360, candidate=True)
    placed = place_labels([other, box("total", 100, 400)], PAGE)
    assert placed[0].label is None
    assert placed[1].label is not None and placed[1].label.where != "above"


def test_a_box_hemmed_in_on_every_side_has_its_label_inside() -> None:
    crowd = [box(name, x, y) for name, x, y in [("a", 0, 0), ("b", 0, 40), ("c", 0, 80)]]
    wall = [box("w", 210, 0, 1030, 1754)]
    placed = place_labels([*crowd, *wall], PAGE)
    label = placed[1].label
    assert label is not None and label.where == "inside"  # over its own box only
