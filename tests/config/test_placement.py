"""A canvas's placement on the building's elevation drawing (`[canvases.placement]`)."""

from __future__ import annotations

import pytest

from trocadero.config import ConfigError
from trocadero.config.loader import load_default_show, parse_toml
from trocadero.config.show import CanvasPlacement, ShowDef

CANVAS = '[[canvases]]\nname = "canopy"\nwidth = 24\nheight = 8\n'


def problems(placement: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_toml(ShowDef, f"{CANVAS}[canvases.placement]\n{placement}\n", source="show.toml")
    return info.value.problems


def test_a_placement_is_read() -> None:
    show = parse_toml(
        ShowDef,
        f"{CANVAS}[canvases.placement]\nx = 24\ny = 19.5\nwidth = 12\nheight = 4\n",
        source="s",
    )
    assert show.canvases[0].placement == CanvasPlacement(24.0, 19.5, 12.0, 4.0)


def test_a_placement_is_optional() -> None:
    assert parse_toml(ShowDef, CANVAS, source="s").canvases[0].placement is None


@pytest.mark.parametrize(
    ("placement", "message"),
    [
        (
            "x = 1\ny = 1\nwidth = 0\nheight = 2",
            'show.toml: canvases[0 "canopy"].placement.width: must be greater than 0 (got 0.0)',
        ),
        (
            "x = 1\ny = 1\nwidth = 2\nheight = -3",
            'show.toml: canvases[0 "canopy"].placement.height:'
            " must be between 0 and 10000 (got -3.0)",
        ),
        (
            "x = -1\ny = 1\nwidth = 2\nheight = 2",
            'show.toml: canvases[0 "canopy"].placement.x: must be between 0 and 10000 (got -1.0)',
        ),
        (
            'x = 1\ny = "top"\nwidth = 2\nheight = 2',
            "show.toml: canvases[0 \"canopy\"].placement.y: expected a number (got 'top')",
        ),
        (
            "x = 1\ny = 1\nwidth = 2\nheight = 2\nleft = 1",
            'show.toml: canvases[0 "canopy"].placement.left: unknown key (got 1)',
        ),
    ],
)
def test_bad_values_are_refused_naming_the_canvas_and_field(placement: str, message: str) -> None:
    assert problems(placement) == [message]


def test_a_placement_that_is_not_a_table_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        parse_toml(ShowDef, f"{CANVAS}placement = 3\n", source="show.toml")
    assert info.value.problems == [
        'show.toml: canvases[0 "canopy"].placement: expected a table (got 3)'
    ]


def test_every_problem_is_listed_at_once() -> None:
    found = problems("x = 1\ny = 1\nwidth = 0\nheight = 0")
    assert found == [
        'show.toml: canvases[0 "canopy"].placement.width: must be greater than 0 (got 0.0)',
        'show.toml: canvases[0 "canopy"].placement.height: must be greater than 0 (got 0.0)',
    ]


def test_the_default_show_places_all_five_canvases_on_the_drawing() -> None:
    show = load_default_show()
    placed = {c.name: c.placement for c in show.canvases}
    assert set(placed) == {"facade", "canopy", "interior", "videowall", "stairs"}
    assert all(p is not None for p in placed.values())
    facade = placed["facade"]
    canopy = placed["canopy"]
    assert facade is not None
    assert canopy is not None
    # The facade is the largest; the canopy hangs below it, over the entrance.
    area = {n: p.width * p.height for n, p in placed.items() if p is not None}
    assert max(area, key=lambda n: area[n]) == "facade"
    assert canopy.y >= facade.y + facade.height
