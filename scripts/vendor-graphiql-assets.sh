#!/usr/bin/env bash
# Refresh api/http/graphiql_assets/ from the npm registry: the files Strawberry's GraphiQL
# page names (on unpkg.com), each checked against the page's integrity hash.
# Needs npm and network access; run it when Strawberry's GraphiQL versions change.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python - <<'PY'
import base64, hashlib, json, re, subprocess, tarfile, tempfile
from pathlib import Path

import strawberry

page = (Path(strawberry.__file__).parent / "static" / "graphiql.html").read_text()
target = Path("api/http/graphiql_assets")
found = re.findall(r'(?:src|href)="https://unpkg\.com/([^"]+)"\s+integrity="([^"]+)"', page)
with tempfile.TemporaryDirectory() as work:
    for path, integrity in found:
        name, version, file = re.fullmatch(r"(@?[^@]+)@([^/]+)/(.+)", path).groups()
        archive = subprocess.run(
            ["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", work],
            check=True, capture_output=True, text=True,
        )
        tgz = Path(work) / json.loads(archive.stdout)[0]["filename"]
        with tarfile.open(tgz) as tar:
            data = tar.extractfile(f"package/{file}").read()
            digest = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
            if digest != integrity:
                raise SystemExit(f"{path}: {digest} is not the page's {integrity}")
            out = target / f"{name}@{version}" / file
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            for licence in ("package/LICENSE", "package/package.json"):
                try:
                    text = tar.extractfile(licence).read()
                except KeyError:
                    continue
                (target / f"{name}@{version}" / Path(licence).name).write_bytes(text)
                break
        print(f"{path}: ok")
PY
