"""Clients learn of a schema change before it breaks them: breaks go through a deprecation."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from api.graphql.schema import build_schema
from api.graphql.schema_changes import compare, report

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = "schema.graphql"

OLD = """
type Query {
  product(id: ID!, currency: String @deprecated(reason: "Prices are in yen.")): Product
  products(first: Int = 20): [Product!]!
}

type Product {
  id: ID!
  name: String!
  title: String! @deprecated(reason: "Use `name` instead.")
  price: Int!
  status: Status!
}

enum Status {
  ACTIVE
  HIDDEN @deprecated(reason: "Use ARCHIVED instead.")
  ARCHIVED
}
"""


def changed(old: str, new: str) -> str:
    changed = OLD.replace(old, new)
    assert changed != OLD, old
    return changed


def test_removing_a_field_nobody_was_warned_about_is_breaking():
    changes = compare(OLD, changed("  price: Int!\n", ""))
    assert changes.breaking == ["Field Product.price was removed."]
    assert "@deprecated" in "\n".join(report(changes))


def test_removing_what_was_deprecated_is_allowed():
    new = changed('  title: String! @deprecated(reason: "Use `name` instead.")\n', "")
    new = new.replace('  HIDDEN @deprecated(reason: "Use ARCHIVED instead.")\n', "")
    new = new.replace(', currency: String @deprecated(reason: "Prices are in yen.")', "")
    changes = compare(OLD, new)
    assert changes.breaking == []
    assert sorted(changes.retired) == [
        "Argument Query.product(currency:) was removed.",
        "Enum value Status.HIDDEN was removed.",
        "Field Product.title was removed.",
    ]


def test_a_type_goes_with_the_last_deprecated_field_that_used_it():
    old = (
        OLD.replace(
            "  status: Status!\n",
            '  status: Status!\n  legacy: Legacy @deprecated(reason: "Use `status` instead.")\n',
        )
        + "\ntype Legacy {\n  code: Int\n}\n"
    )
    changes = compare(old, OLD)
    assert changes.breaking == []
    assert sorted(changes.retired) == ["Field Product.legacy was removed.", "Legacy was removed."]
    still_used = old.replace("  price: Int!\n", "  price: Int!\n  other: Legacy\n")
    assert "Legacy was removed." in compare(still_used, OLD.replace("  price: Int!\n", "")).breaking


def test_narrowing_a_type_removing_a_value_or_requiring_an_argument_is_breaking():
    assert compare(OLD, changed("  ARCHIVED\n", "")).breaking == [
        "Enum value Status.ARCHIVED was removed."
    ]
    assert compare(OLD, changed("price: Int!", "price: String!")).breaking
    assert compare(OLD, changed("first: Int = 20", "first: Int!")).breaking
    assert compare(OLD, changed("(first: Int = 20)", "(first: Int = 20, lang: String!)")).breaking


def test_additions_are_safe_and_a_new_enum_value_is_dangerous():
    assert compare(OLD, changed("  price: Int!\n", "  price: Int!\n  stock: Int\n")) == compare(
        OLD, OLD
    )
    changes = compare(OLD, changed("  ARCHIVED\n", "  ARCHIVED\n  DRAFT\n"))
    assert (changes.breaking, changes.dangerous) == ([], ["Enum value Status.DRAFT was added."])


def test_the_code_keeps_every_client_of_the_checked_in_schema_working():
    changes = compare((ROOT / SNAPSHOT).read_text(), build_schema().as_str())
    assert changes.breaking == [], "\n".join(report(changes))


THIS_CHECK = "tests/api/test_schema_changes.py"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout


def breaks_in_history(root: Path) -> list[str]:
    """Each committed schema.graphql against the one before, from the commit that added this check.

    Earlier versions were published under no such promise. Raises LookupError
    when the check is not committed yet.
    """
    since = _git(
        root, "log", "--first-parent", "--diff-filter=A", "--format=%H", "--", THIS_CHECK
    ).split()
    if not since:
        raise LookupError(THIS_CHECK)
    commits = [
        since[-1],
        *_git(
            root,
            "log",
            "--first-parent",  # the line releases follow: a merge is compared as a whole
            "--reverse",
            "--format=%H",
            f"{since[-1]}..HEAD",
            "--",
            SNAPSHOT,
        ).split(),
    ]
    versions = [_git(root, "show", f"{commit}:{SNAPSHOT}") for commit in commits]
    found = []
    for commit, old, new in zip(commits[1:], versions, versions[1:], strict=False):
        found += [
            f"{commit[:12]}: {line}"
            for line in report(compare(old, new))
            if line.startswith("breaking")
        ]
    return found


def test_no_committed_version_of_the_schema_broke_the_one_before():
    """Regenerating schema.graphql cannot hide a break: its history is checked, pair by pair."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the schema's history cannot be read")
    if _git(ROOT, "rev-parse", "--is-shallow-repository").strip() == "true":
        pytest.skip("a shallow clone lacks the schema's history: fetch it with --unshallow")
    try:
        found = breaks_in_history(ROOT)
    except LookupError:
        pytest.skip("this check is not committed yet: only the working tree is compared")
    assert found == [], "\n".join(found)


def test_the_history_check_finds_a_break_committed_with_a_regenerated_snapshot(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("no git")
    _git(tmp_path, "init", "-q")
    (tmp_path / "tests/api").mkdir(parents=True)
    (tmp_path / THIS_CHECK).write_text("")
    grown = changed("  price: Int!\n", "  price: Int!\n  stock: Int\n")
    for message, schema in [
        ("check", OLD),
        ("fine", grown),
        ("break", grown.replace("  price: Int!\n", "")),
    ]:
        (tmp_path / SNAPSHOT).write_text(schema)
        _git(tmp_path, "add", "-A")
        _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)
    head = _git(tmp_path, "rev-parse", "HEAD")[:12]
    assert breaks_in_history(tmp_path) == [f"{head}: breaking: Field Product.price was removed."]


def test_shop_schema_against_a_published_schema_exits_1_on_a_break(tmp_path, capsys):
    import cli
    from settings import Settings

    def shop_schema(*argv: str) -> None:
        # The command itself, without `cli.main`'s logging set-up, which would
        # keep pytest's captured stdout for every later test.
        cli._schema(Settings(), cli.parser().parse_args(["schema", *argv]))

    published = tmp_path / "published.graphql"
    published.write_text(
        (ROOT / SNAPSHOT)
        .read_text()
        .replace("type Order {", "type Order {\n  legacyTotal: Int!", 1)
    )
    with pytest.raises(SystemExit) as exited:
        shop_schema("--against", str(published))
    assert exited.value.code == 1
    assert "breaking: Field Order.legacyTotal was removed." in capsys.readouterr().out
    shop_schema("--against", str(ROOT / SNAPSHOT))
    assert capsys.readouterr().out == "no change a client could notice\n"
    for content in (b"\xff\xfe binary", b"type Query {", b"\x00"):
        published.write_bytes(content)
        with pytest.raises(SystemExit, match="is not a GraphQL schema"):
            shop_schema("--against", str(published))
