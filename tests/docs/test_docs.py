"""The README and the pages of `docs/` it maps, read as files: no servers.

The README stays short and links to every page; every relative link in them
leads to a file that exists, and an `#anchor` to a heading there (by GitHub's
rule for a heading's id); and every `shop` command their shell blocks name is
one `cli.py`'s parser knows, so a block can be run as written.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from cli import parser

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))

FENCE = re.compile(r"^([ \t]*)```(\w*)[^\n]*\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# `shop …`, `.venv/bin/shop …` or `./dev …` (which runs any `shop` command), at the start of
# a command, and the words after it up to the first option, argument list or comment.
SHOP = re.compile(
    r"(?:^|(?<=[\s;&|(]))(?:\.venv/bin/shop|shop|\./dev)(?=\s|$)((?:[ \t]+[a-z][\w-]*(?=\s|$))*)",
    re.MULTILINE,
)


def documents() -> list[Path]:
    return [README, *PAGES]


def prose(text: str) -> str:
    """The text without its code blocks and code spans, where nothing is a link or a heading."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's id for a heading: its text, lower case, without punctuation, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts as its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(path: Path) -> list[str]:
    return [target for target in LINK.findall(prose(path.read_text())) if not SCHEME.match(target)]


def test_every_docs_page_is_linked_from_the_readme():
    assert PAGES, "docs/ holds no pages"
    linked = {
        (README.parent / target.partition("#")[0]).resolve() for target in relative_links(README)
    }
    assert [page.name for page in PAGES if page not in linked] == []


def test_every_docs_page_has_a_title_says_what_it_holds_and_links_back():
    for page in PAGES:
        first, blank, sentence, *_ = page.read_text().splitlines()
        assert first.startswith("# ") and blank == "" and sentence.strip(), page.name
        assert "../README.md" in [target.partition("#")[0] for target in relative_links(page)], (
            page.name
        )


def test_every_relative_link_leads_to_a_file_and_a_heading_that_exist():
    broken = []
    for document in documents():
        for target in relative_links(document):
            file, _, anchor = target.partition("#")
            destination = (document.parent / file).resolve() if file else document
            if not destination.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
                broken.append(f"{document.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []


def test_the_readme_is_short():
    assert len(README.read_text().splitlines()) <= 260


def shell_commands() -> list[tuple[str, list[str]]]:
    """Each `shop` command in a shell block of the README or a docs page, as its words."""
    found = []
    for document in documents():
        for _, kind, body in FENCE.findall(document.read_text()):
            if kind in ("sh", "bash", "shell"):
                for words in SHOP.findall(body):
                    found.append((document.name, words.split()))
    return found


def test_every_shop_command_in_a_shell_block_is_a_real_one():
    commands = shell_commands()
    assert any(words for _, words in commands), commands  # the blocks do name commands
    refused = []
    for name, words in commands:
        output = io.StringIO()
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            try:
                parser().parse_args([*words, "--help"])
                code: int | str | None = 0
            except SystemExit as exit:
                code = exit.code
        if code != 0:
            refused.append((name, " ".join(words), output.getvalue().strip().splitlines()[-1:]))
    assert refused == []
