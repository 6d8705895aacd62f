#!/usr/bin/env bash
# A non-editable install works: build docqa's wheel, install it (--no-deps) into a fresh virtual environment,
# and from a directory outside the repository run `docqa --help`, then index a small generated text file and
# ask one question with the small packaged model. Dependencies come from ./.venv through PYTHONPATH: entries
# there do not process .pth files, so ./.venv's editable-install finder stays off and only the wheel's code is
# imported (checked). Fails loudly on a module or data file missing from the wheel.
# Usage (after .ci/setup): bash .ci/wheel_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=$REPO/.venv/bin/python
PACKAGES="app ingest retrieval rerank generation"
[ -x "$PY" ] || { echo "wheel_check: no $PY; run .ci/setup first" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/docqa-wheel.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fail() { echo "wheel_check: FAIL: $*" >&2; exit 1; }
step() { echo "wheel_check: $* ($((SECONDS - START))s)"; }
START=$SECONDS

# 1. The source as a commit would have it (tracked and untracked-but-not-ignored files), so that a stale build/
#    or egg-info in the work tree can neither add files to the wheel nor hide missing ones.
"$PY" - "$TMP/src" <<'EOF'
import shutil, subprocess, sys
from pathlib import Path

out = Path(sys.argv[1])
names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                       check=True, capture_output=True).stdout.decode().split("\0")
for name in filter(None, names):
    if Path(name).is_file():  # a deleted but still indexed file is skipped
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(name, out / name)
EOF

# 2. Build the wheel (isolated build: the [build-system] requirements of pyproject.toml).
"$PY" -m pip wheel --no-deps -w "$TMP/dist" "$TMP/src" >"$TMP/build.log" 2>&1 \
  || { cat "$TMP/build.log" >&2; fail "building the wheel failed"; }
WHEEL=$(ls "$TMP"/dist/docqa-*.whl)
step "built $(basename "$WHEEL")"

# 3. Every module and data file of the five packages is in the wheel.
"$PY" - "$TMP/src" "$WHEEL" $PACKAGES <<'EOF'
import sys, zipfile
from pathlib import Path

src, wheel, packages = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
want = {p.relative_to(src).as_posix() for pkg in packages for p in (src / pkg).rglob("*")
        if p.is_file() and (p.suffix == ".py" or p.parent.name == "samples")}
have = set(zipfile.ZipFile(wheel).namelist())
missing = sorted(want - have)
if missing:
    sys.exit("wheel_check: FAIL: missing from the wheel:\n  " + "\n  ".join(missing))
print(f"wheel_check: the wheel holds all {len(want)} modules and data files")
EOF

# 4. A fresh environment with only the wheel installed; ./.venv's site-packages supplies the dependencies.
"$PY" -m venv --without-pip "$TMP/venv"
"$PY" -m pip --python "$TMP/venv/bin/python" install -q --no-deps "$WHEEL" >"$TMP/install.log" 2>&1 \
  || { cat "$TMP/install.log" >&2; fail "installing the wheel failed"; }
for name in $(compgen -e | grep '^DOCQA_' || true); do unset "$name"; done
export PYTHONPATH
PYTHONPATH=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export DOCQA_LLM_MODEL=smollm2-135m-instruct-q4_1 DOCQA_LLM_CONTEXT=2048 DOCQA_CACHE="$TMP/cache"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir "$TMP/work"
cd "$TMP/work"  # outside the repository: nothing of it is importable from here
step "installed into a fresh venv"

# 5. Only the wheel's code is imported, and every module of it imports.
"$TMP/venv/bin/python" - "$TMP/venv" "$REPO" $PACKAGES <<'EOF' 2>"$TMP/import.log" || { cat "$TMP/import.log" >&2; exit 1; }
import importlib, pkgutil, sys

venv, repo, packages = sys.argv[1], sys.argv[2], sys.argv[3:]
for name in packages:
    pkg = importlib.import_module(name)
    if not pkg.__file__.startswith(venv + "/"):
        sys.exit(f"wheel_check: FAIL: {name} imported from {pkg.__file__}, not from the fresh venv {venv}")
    for info in pkgutil.walk_packages(pkg.__path__, name + "."):
        importlib.import_module(info.name)
stray = sorted(m for m, mod in sys.modules.items() if (getattr(mod, "__file__", None) or "").startswith(repo + "/")
               and not (getattr(mod, "__file__", None) or "").startswith(repo + "/.venv/"))
if stray:
    sys.exit(f"wheel_check: FAIL: modules imported from the repository: {stray}")
print("wheel_check: app from", importlib.import_module("app").__file__)
EOF
step "imported every module from the wheel"

# 6. The command line: help, index, ask.
"$TMP/venv/bin/docqa" --help >/dev/null || fail "docqa --help"
cat >notes.txt <<'EOF'
Harbour notes.

The lighthouse on Vellmar point was built in 1871 from granite quarried on the island.
Its keeper from 1902 to 1931 was Ida Marsh, who kept a logbook of every ship that passed.
The lamp was electrified in 1954, and the last keeper left in 1987.
EOF
"$TMP/venv/bin/docqa" index notes.txt --index idx >"$TMP/index.log" 2>&1 \
  || { cat "$TMP/index.log" >&2; fail "docqa index"; }
"$TMP/venv/bin/docqa" ask --index idx --json "Who was the keeper of the lighthouse?" >answer.json 2>"$TMP/ask.log" \
  || { cat "$TMP/ask.log" answer.json >&2; fail "docqa ask"; }
"$PY" - answer.json <<'EOF'
import json, sys

answer = json.load(open(sys.argv[1]))
if not answer.get("answer") or not any(p["label"].startswith("notes.txt") for p in answer.get("passages", [])):
    sys.exit(f"wheel_check: FAIL: no answer, or no passage of notes.txt: {answer}")
print("wheel_check: answer:", answer["answer"][:100].replace("\n", " "))
EOF
step "ok"
