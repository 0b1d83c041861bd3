"""Names that become parts of output paths: only letters, digits, '.', '_' and '-'."""

from __future__ import annotations

import pytest

from virnucpro.errors import InputError
from virnucpro.files.names import check_name

UNSAFE = [
    "a/../../x",  # starts with a safe letter, then climbs out of the output folder
    "a/..",
    "a/b",
    "../x",
    "..",
    ".",
    "/etc/x",
    "a\\..\\x",
    ".hidden",
    "-rf",
    "a b",
    "a$(id)",
    "a;b",
    "a\n",  # a trailing newline: a fullmatch, not a "$"-anchored match
    "",
]


@pytest.mark.parametrize("name", UNSAFE)
def test_path_traversal_and_other_unsafe_names_are_refused(name):
    with pytest.raises(InputError) as error:
        check_name(name, "prefix")
    assert str(error.value) == (
        f"prefix {name!r} may hold only letters, digits, '.', '_' and '-', "
        "starting with a letter or digit"
    )


@pytest.mark.parametrize("name", ["a", "sample_1", "S1.v2-b", "9..x", "a..b"])
def test_safe_names_pass_unchanged(name):
    assert check_name(name, "prefix") == name
