#!/usr/bin/env bash
# Provisions what is missing, idempotently: uv, the API environment (.venv, Python 3.11+),
# the Rasa environment (.venv-rasa, Python 3.8-3.10), with --browser Chromium for the
# browser tests and with --nginx the nginx load balancer of the scaled-out layout. A second run with nothing changed takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
UV=var/tools/bin/uv
want_browser=0
want_nginx=0
for arg in "$@"; do
  [[ $arg == --browser ]] && want_browser=1
  [[ $arg == --nginx ]] && want_nginx=1
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31mSet-up stopped: %s\033[0m\n' "$*" >&2; exit 1; }

mkdir -p var
# --- uv, pinned, in its own small venv -------------------------------------------------------
if [[ ! -x $UV ]] || [[ "$($UV --version 2>/dev/null)" != "uv $UV_VERSION"* ]]; then
  say "Installing uv $UV_VERSION"
  command -v python3 >/dev/null || die "python3 is not installed. Install Python 3.11 or newer."
  python3 -m venv var/tools || die "python3 cannot create a virtual environment. Install the python3-venv package."
  var/tools/bin/pip install -q --disable-pip-version-check "uv==$UV_VERSION"
fi
export UV_LINK_MODE=copy

# sync_env VENV PYTHON LOCKFILE...: create VENV and make it match the lock files exactly, unless its
# stamp says it already does.
sync_env() {
  local venv=$1 python=$2 stamp want
  shift 2
  stamp="$venv/.lock.sha256"
  want="$(cat "$@" | sha256sum | cut -d' ' -f1) $python"
  if [[ -f $stamp && "$(cat "$stamp")" == "$want" && -x $venv/bin/python ]]; then
    return 0
  fi
  say "Installing $* into $venv"
  # A venv made from another interpreter is made anew.
  if [[ -f $stamp && "$(cut -d' ' -f2- "$stamp")" != "$python" ]]; then rm -rf "$venv"; fi
  [[ -x $venv/bin/python ]] || $UV venv -q -p "$python" "$venv"
  VIRTUAL_ENV=$venv $UV pip sync -q "$@"
  echo "$want" > "$stamp"
}

# --- the API's environment, on the machine's own Python -------------------------------------
api_python=$(command -v python3)
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "the API needs Python 3.11 or newer, and python3 is $(python3 -V 2>&1). Install Python 3.11."
sync_env .venv "$api_python" requirements/api.lock.txt

# --- a Python 3.8-3.10 for Rasa --------------------------------------------------------------
usable_for_rasa() {  # prints the interpreter's path when it can run Rasa 3.6
  local py=$1
  [[ -n $py && -x $py ]] || return 1
  "$py" - <<'PY' 2>/dev/null || return 1
import sys
ok = (3, 8) <= sys.version_info[:2] <= (3, 10)
if ok and sys.version_info[:2] < (3, 10):
    import distutils.cmd  # pip and uv need it below 3.10
print(sys.executable) if ok else sys.exit(1)
PY
}

find_rasa_python() {
  local cand
  # Newest first: 3.10, then 3.9, then 3.8, wherever they are.
  for cand in $(command -v python3.10 2>/dev/null) /usr/bin/python3.10 /usr/local/bin/python3.10 \
              "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python \
              $(command -v python3.9 2>/dev/null) /usr/bin/python3.9 \
              "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.9*/bin/python \
              $(command -v python3.8 2>/dev/null); do
    usable_for_rasa "$cand" && return 0
  done
  cand=$($UV python find '>=3.8,<3.11' 2>/dev/null) && usable_for_rasa "$cand" && return 0
  return 1
}

# The route verified on Debian 12 hosts without a Python 3.8-3.10: bullseye's python3.9,
# pinned low so nothing else comes from bullseye, plus its distutils unpacked by hand.
install_bullseye_python() {
  [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null || return 1
  grep -q bookworm /etc/os-release 2>/dev/null || return 1
  say "Installing Python 3.9 from Debian bullseye for Rasa (see README, Troubleshooting)"
  cat > /etc/apt/sources.list.d/bullseye-python.list <<'APT'
deb http://deb.debian.org/debian bullseye main
deb http://deb.debian.org/debian-security bullseye-security main
APT
  cat > /etc/apt/preferences.d/bullseye-python <<'APT'
Package: *
Pin: release n=bullseye
Pin-Priority: 100
APT
  apt-get update -qq && apt-get install -y -qq -t bullseye python3.9 python3.9-dev >/dev/null || return 1
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq python3-distutils=3.9.2-1 python3-lib2to3=3.9.2-1) || return 1
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" /; done
  rm -rf "$tmp"
}

if [[ -n ${RASA_PYTHON:-} ]]; then
  rasa_python=$(usable_for_rasa "$RASA_PYTHON") \
    || die "RASA_PYTHON=$RASA_PYTHON is not a working Python 3.8-3.10. Point it at one (for example the output of 'uv python find 3.10') or unset it."
elif ! rasa_python=$(find_rasa_python); then
  if [[ ${RASA_AUTO_INSTALL_PYTHON:-1} == 1 ]] && install_bullseye_python; then
    rasa_python=$(find_rasa_python) || true
  fi
fi
[[ -n ${rasa_python:-} ]] || die "Rasa 3.6 needs Python 3.8, 3.9 or 3.10 and none was found. Install one (for example 'uv python install 3.10') and set RASA_PYTHON to its path."
sync_env .venv-rasa "$rasa_python" requirements/rasa.lock.txt requirements/rasa-encoder.txt

# --- Chromium for the browser tests ----------------------------------------------------------
if [[ $want_browser == 1 ]] && [[ ! -x /usr/bin/chromium ]]; then
  say "Installing Chromium from the Debian packages (browser tests)"
  [[ $(id -u) == 0 ]] || die "Chromium is missing and installing it needs root: run 'sudo apt-get install chromium'."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || die "apt-get could not install chromium. Install it by hand: apt-get install chromium."
fi
# --- nginx for the scaled-out layout (make run-scaled, tests/scale) ----------------------------
# An nginx on the PATH is used as it is. Otherwise Debian's package is unpacked under var/tools/nginx
# (apt-get download + dpkg -x): no service is installed or started, nothing outside var/ changes.
if [[ $want_nginx == 1 ]] && ! command -v nginx >/dev/null && [[ ! -x var/tools/nginx/usr/sbin/nginx ]]; then
  say "Unpacking Debian's nginx under var/tools/nginx (scaled-out layout)"
  command -v apt-get >/dev/null && command -v dpkg >/dev/null \
    || die "nginx is missing: install it (e.g. 'apt-get install nginx' or 'brew install nginx') for make run-scaled."
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq nginx 2>/dev/null) && dpkg -x "$tmp"/nginx_*.deb var/tools/nginx \
    || die "apt-get could not download nginx. Install it by hand: apt-get install nginx."
  rm -rf "$tmp"
  var/tools/nginx/usr/sbin/nginx -v 2>/dev/null || die "The unpacked nginx does not run. Install it by hand: apt-get install nginx."
fi
exit 0
