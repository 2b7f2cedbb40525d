#!/usr/bin/env bash
# Install the browser the UI test drives: Debian's chromium and chromium-driver.
#
# The system packages (not a downloaded Chrome) because they come from the same apt mirror as
# everything else on the machine and are kept patched by it; chromium and its driver also
# always match each other's version. Idempotent: does nothing when both are present. Without
# root or passwordless sudo it explains what to run and exits 0, so `make` keeps going and the
# browser test skips itself with that reason.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    echo "chromium and chromedriver already installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "chromium/chromedriver missing and no root access: run 'sudo apt-get install -y chromium chromium-driver'" \
         "(the browser test is skipped until then)" >&2
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "no apt-get here: install Chromium and its matching chromedriver at /usr/bin by hand" >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if ! { "${as_root[@]}" apt-get update -qq && \
       "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver; }; then
    echo "could not install chromium/chromium-driver from apt (the browser test is skipped until then)" >&2
    exit 0
fi
echo "installed: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) / $(/usr/bin/chromedriver --version)"
