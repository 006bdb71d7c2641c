"""Patch CSV import/export: columns, cell formats, and errors with file and line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from trocadero.config import ConfigError, load_default_show
from trocadero.config.show import CanvasDef, FixtureDef, ShowDef
from trocadero.core.patch import PatchError, compile_patch
from trocadero.core.patch_csv import (
    COLUMNS,
    format_patch_csv,
    load_patch_csv,
    parse_patch_csv,
)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_patch_csv(text, source="patch.csv")
    return info.value.problems


FIXTURES = (
    FixtureDef(name="strip-1", canvas="interior", pixels=300, universe=701),
    FixtureDef(
        name="panel, north",  # a comma, so the cell is quoted
        canvas="canopy",
        type="pixel-ws2811",
        shape="matrix",
        x=30,
        y=0,
        width=30,
        height=80,
        start_corner="bottom-right",
        order="columns",
        serpentine=True,
        colour_order="GRB",
        universe=516,
        channel=4,
        universe_size=512,
    ),
    FixtureDef(
        name="step-1",
        canvas="stairs",
        x=95,
        pixels=96,
        direction="left",
        colour_order="RGBW",
        universe=1101,
    ),
    FixtureDef(name="spot", canvas="c", pixels=1, colour_order="DIMMER", channel=510),
)


def test_round_trip() -> None:
    text = format_patch_csv(FIXTURES)
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert text.splitlines()[2].startswith('"panel, north",canopy,pixel-ws2811,matrix,30,0,')
    assert parse_patch_csv(text, source="x.csv") == FIXTURES


def test_default_show_round_trips() -> None:
    fixtures = load_default_show().fixtures
    assert parse_patch_csv(format_patch_csv(fixtures), source="x.csv") == fixtures


def test_only_name_and_canvas_are_required() -> None:
    text = "name,canvas\nfront,facade\n"
    assert parse_patch_csv(text, source="x.csv") == (FixtureDef(name="front", canvas="facade"),)


def test_cell_formats() -> None:
    text = (
        "\ufeff# exported from the site spreadsheet\n"
        "Name ; Canvas ; Shape ; Width ; Height ; Serpentine ; Colour Order ; Universe-Size ;"
        " Start Corner\n"
        "\n"
        "m1 ; c ; matrix ; 2 ; 2 ; Yes ; grb ; 512 ; Bottom-Left\n"
        "m2 ; c ; MATRIX ; 2 ; 2 ; no  ; rgbw ;     ;\n"
        "# a comment row\n"
        'm3 ; c ; matrix ; 2 ; 2 ; 1 ; "dimmer"\n'  # missing trailing cells are empty
        "m4 ; c ; matrix ; 2 ; 2 ; FALSE ; ; ; ;\n"
    )
    m1, m2, m3, m4 = parse_patch_csv(text, source="x.csv")
    base = FixtureDef(name="m1", canvas="c", shape="matrix", width=2, height=2)
    assert m1 == replace(
        base,
        serpentine=True,
        colour_order="GRB",
        universe_size=512,
        start_corner="bottom-left",
    )
    assert m2 == replace(base, name="m2", colour_order="RGBW")
    assert m3 == replace(base, name="m3", serpentine=True, colour_order="DIMMER")
    assert m4 == replace(base, name="m4")


def test_tab_separated() -> None:
    text = "name\tcanvas\tpixels\na\tc\t5\n"
    assert parse_patch_csv(text, source="x.tsv") == (FixtureDef(name="a", canvas="c", pixels=5),)


def test_bad_values_with_line_numbers() -> None:
    text = (
        "name,canvas,pixels,x,universe,universe_size,serpentine,colour_order,direction\n"
        "ok,c,10,0,1,510,no,RGB,right\n"
        "a,c,ten,0,1,510,no,RGB,right\n"
        "b,c,10,-1,0,511,maybe,RBG,sideways\n"
        "\n"
        "c,c,1.5,0,1,510,no,RGB,right\n"
    )
    assert problems(text) == [
        "patch.csv:3: pixels: expected an integer (got 'ten')",
        "patch.csv:4: serpentine: expected true/false, yes/no or 1/0 (got 'maybe')",
        "patch.csv:4: x: must be between 0 and 8191 (got -1)",
        "patch.csv:4: direction: must be one of 'right', 'left', 'down', 'up' (got 'sideways')",
        "patch.csv:4: colour_order: must be one of 'RGB', 'GRB', 'BGR', 'RGBW', 'RGBA', 'DIMMER'"
        " (got 'RBG')",
        "patch.csv:4: universe: must be between 1 and 63999 (got 0)",
        "patch.csv:4: universe_size: must be one of 510, 512 (got 511)",
        "patch.csv:6: pixels: expected an integer (got '1.5')",
    ]


def test_unknown_and_missing_columns() -> None:
    text = "name,colour,univers,,name\nx,RGB,4,,y\n"
    assert problems(text) == [
        "patch.csv:1: colour: unknown column; did you mean 'colour_order'?",
        "patch.csv:1: univers: unknown column; did you mean 'universe'?",
        "patch.csv:1: a column has no name (leave no empty header cells)",
        "patch.csv:1: name: the column appears twice",
        "patch.csv:1: canvas: required column is missing",
    ]


def test_header_after_comments_gets_its_own_line_number() -> None:
    assert problems("# patch v2\n\nname,canvs\n") == [
        "patch.csv:3: canvs: unknown column; did you mean 'canvas'?",
        "patch.csv:3: canvas: required column is missing",
    ]


def test_empty_required_cells_and_duplicates() -> None:
    text = "name,canvas,pixels\na,c,1\n,c,1\nb,,1\na,c,2\nbad,c,x\nbad,c,3\n"
    assert problems(text) == [
        "patch.csv:3: name: required, but the cell is empty",
        "patch.csv:4: canvas: required, but the cell is empty",
        "patch.csv:5: name: duplicate fixture name, first on line 2 (got 'a')",
        "patch.csv:6: pixels: expected an integer (got 'x')",
        "patch.csv:7: name: duplicate fixture name, first on line 6 (got 'bad')",
    ]


def test_row_with_too_many_cells() -> None:
    assert problems("name,canvas\na,c,extra\nb,c,,\n") == [
        "patch.csv:2: the row has 3 cells but the header has 2 columns"
    ]


def test_quoted_cell_spanning_lines_keeps_later_line_numbers() -> None:
    text = 'name,canvas,pixels\n"two\nlines",c,1\nz,c,q\n'
    assert problems(text) == ["patch.csv:4: pixels: expected an integer (got 'q')"]


def test_no_header() -> None:
    assert problems("") == [
        "patch.csv:1: no header row (expected column names such as name,canvas)"
    ]
    assert problems("# only a comment\n\n") == [
        "patch.csv:1: no header row (expected column names such as name,canvas)"
    ]


def test_header_only_is_an_empty_patch() -> None:
    assert parse_patch_csv("name,canvas\n", source="x.csv") == ()


def test_load_from_file(tmp_path: Path) -> None:
    path = tmp_path / "patch.csv"
    path.write_text(format_patch_csv(FIXTURES), encoding="utf-8")
    assert load_patch_csv(path) == FIXTURES
    with pytest.raises(ConfigError, match=r"missing\.csv: cannot read"):
        load_patch_csv(tmp_path / "missing.csv")


def test_imported_patch_compiles_and_patch_errors_name_the_fixture() -> None:
    text = (
        "name,canvas,shape,width,height,serpentine,colour_order,universe,channel,universe_size\n"
        "wall,c,matrix,3,2,true,RGBW,1,509,510\n"
        "spill,c,matrix,4,2,false,RGB,5,1,510\n"
    )
    fixtures = parse_patch_csv(text, source="x.csv")
    show = ShowDef(canvases=(CanvasDef(name="c", width=3, height=2),), fixtures=fixtures[:1])
    assert compile_patch(show).fixture_ranges["wall"] == ((2, 1, 24),)
    with pytest.raises(PatchError) as info:
        compile_patch(replace(show, fixtures=fixtures))
    assert info.value.problems == [
        'fixture "spill": pixel (3, 0) is outside canvas "c" (3 x 2); 2 of its 8 pixels are outside'
    ]


def test_the_documented_example() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "patch-csv.md").read_text(encoding="utf-8")
    example = doc.split("```csv\n", 1)[1].split("```", 1)[0]
    fixtures = parse_patch_csv(example, source="docs/patch-csv.md")
    assert [f.name for f in fixtures] == [
        "canopy-1",
        "canopy-2",
        "run-1",
        "run-2",
        "stairs-1",
        "spot, lobby",
    ]
    default = load_default_show()
    patch = compile_patch(replace(default, fixtures=fixtures))
    assert patch.fixture_ranges["run-1"] == ((701, 1, 510), (702, 1, 390))
    assert patch.fixture_ranges["run-2"] == ((702, 391, 510), (703, 1, 510), (704, 1, 270))
    assert patch.fixture_ranges["spot, lobby"] == ((1200, 1, 1),)
    assert patch.canvases["stairs"].intensity_offset is not None
