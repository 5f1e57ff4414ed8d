# Shared by scripts/run and scripts/test: find Python, create .venv, install the pinned set.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

die() { echo "error: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  die "Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)"
}

# ensure_venv [extras]: .venv exists and holds exactly the pinned dependency set (re-installs only
# when pyproject.toml, the constraints or the extras change). Safe when two scripts run at once.
ensure_venv() {
  local extras="${1:-}" spec="." stamp_file="$VENV/.board3-install" stamp python
  [ -n "$extras" ] && spec=".[$extras]"
  if [ ! -x "$VENV/bin/python" ]; then
    python="$(find_python)"
    say "creating virtual environment in .venv ($("$python" --version))"
    "$python" -m venv "$VENV" || die "could not create .venv (is the venv module installed?)"
  fi
  stamp="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements/constraints.txt" | sha256sum | cut -c1-16)-$extras"
  exec 9>"$VENV/.install.lock"
  flock 9
  if [ ! -f "$stamp_file" ] || ! grep -qxF "$stamp" "$stamp_file"; then
    say "installing pinned dependencies ($spec)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      -c "$ROOT/requirements/constraints.txt" -e "$ROOT/$spec" \
      2> >(grep -v "^WARNING: Location .* is ignored" >&2) ||
      die "dependency installation failed (see pip's output above)"
    echo "$stamp" >>"$stamp_file"
  fi
  flock -u 9
}

# ensure_chromium: the console's browser tests drive Debian's Chromium through Playwright (the
# browser Playwright would download itself is not reachable). Installs it with apt-get when it is
# missing and apt-get can be used; otherwise those tests are skipped and say why.
ensure_chromium() {
  local sudo=""
  [ -n "${BOARD3_CHROMIUM:-}" ] && return 0
  command -v chromium >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || { say "no chromium and no apt-get: browser tests will be skipped"; return 0; }
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      say "no chromium, and apt-get needs root: browser tests will be skipped (apt-get install -y chromium)"
      return 0
    fi
  fi
  say "installing chromium for the browser tests (apt-get)"
  if ! $sudo apt-get install -y -q chromium >/dev/null 2>&1; then
    $sudo apt-get update -q >/dev/null 2>&1 || true
    $sudo apt-get install -y -q chromium >/dev/null 2>&1 ||
      say "could not install chromium: browser tests will be skipped"
  fi
}
