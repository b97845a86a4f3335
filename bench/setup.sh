#!/bin/sh
# Installs what the benchmark needs on Debian, when it is missing:
#   libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0   the peer allocators
#   libgc-dev                                          Boehm GC, for bench/gc
#   gnuplot-nox                                        the chart
#   python3                                            the runner
# Needs root (or password-less sudo) to install; without it, or when apt-get
# fails, it says so and the benchmark carries on without what is missing.
# Always exits 0. Called by bench/run.sh (skip with NO_SETUP=1).

pkgs="libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 libgc-dev gnuplot-nox python3"

say() { echo "bench/setup: $*" >&2; }

if ! command -v dpkg-query >/dev/null 2>&1; then
    say "no dpkg-query (not Debian?): install by hand if needed: $pkgs"
    exit 0
fi

missing=""
for p in $pkgs; do
    case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
else
    say "not root: cannot install$missing; carrying on without them"
    exit 0
fi

say "installing$missing"
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get update -qq >/dev/null; then
    say "apt-get update failed; trying to install anyway"
fi
for p in $missing; do
    if ! $sudo apt-get install -y -qq --no-install-recommends "$p" >/dev/null; then
        say "could not install $p; carrying on without it"
    fi
done
exit 0
