"""Names that become parts of output paths: only letters, digits, '.', '_' and '-'; sequence
ids: printable ASCII but space, quotes and a leading '#', at most 1000 characters."""

from __future__ import annotations

import pytest

from virnucpro.errors import InputError
from virnucpro.files.names import MAX_ID_LENGTH, SEQUENCE_ID, check_name, check_sequence_id

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


@pytest.mark.parametrize(
    ("record_id", "character"),
    [
        ('"q1', '"'),
        ("it's", "'"),
        ("#x", "#"),
        ("a\x01b", "\x01"),
        ("a\x7fb", "\x7f"),
        ("séq", "é"),
        ("a b", " "),
    ],
)
def test_sequence_ids_that_tables_cannot_carry_are_refused(record_id, character):
    with pytest.raises(InputError) as error:
        check_sequence_id(record_id, "in.fasta")
    message = str(error.value)
    assert message.startswith(f"in.fasta: record {record_id!r} has {character!r} in its id")
    assert "\n" not in message and "\x01" not in message


@pytest.mark.parametrize("record_id", ["a", "a#b", "sp|P1|X_1", "x<y>&z;$(id)", "b\\s", "!~{}`"])
def test_every_other_printable_ascii_character_is_allowed(record_id):
    check_sequence_id(record_id, "in.fasta")
    assert SEQUENCE_ID.fullmatch(record_id)


def test_ids_are_at_most_1000_characters_but_chunk_and_frame_suffixes():
    check_sequence_id("x" * MAX_ID_LENGTH, "in.fasta")
    check_sequence_id("x" * MAX_ID_LENGTH + "_chunk_123", "chunks.fasta")
    check_sequence_id("x" * MAX_ID_LENGTH + "_chunk_123R2", "frames.fasta")
    for record_id in ("x" * (MAX_ID_LENGTH + 1), "x" * MAX_ID_LENGTH + "_chunk_1a"):
        with pytest.raises(InputError) as error:
            check_sequence_id(record_id, "in.fasta")
        assert str(error.value) == (
            f"in.fasta: record '{'x' * 40}...' has an id longer than 1,000 characters, "
            "the most an id may have"
        )
