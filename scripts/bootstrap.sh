# Sourced by ./dev and ./test: make sure .venv exists and holds what pyproject.toml pins.
# Needs only Python 3.11+ and access to PyPI; reinstalls when pyproject.toml changes.

find_python() {
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

if [ ! -x .venv/bin/python ]; then
    python=$(find_python)
    echo "creating .venv with $("$python" --version)" >&2
    "$python" -m venv .venv
fi
stamp=.venv/.installed-$(cksum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ]; then
    echo "installing dependencies into .venv (first run only)" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
    rm -f .venv/.installed-*
    touch "$stamp"
fi
