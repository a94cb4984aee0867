#!/usr/bin/env bash
# The one command that runs every test on a fresh machine: bash scripts/test.sh
# Installs what the tests need (PostgreSQL 15 server binaries, Node.js/npm) when missing, builds the solution once
# in Release (warnings are errors), runs all test projects, and ends with one line
# "N passed, N failed, N skipped". Exits non-zero when anything failed or when no test ran.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo_root="$(pwd)"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DEBIAN_FRONTEND=noninteractive

script_name=scripts/test.sh
# shellcheck source=scripts/lib/install.sh
source scripts/lib/install.sh  # the working directory is the repo root here

# PostgreSQL server binaries (initdb, pg_ctl, postgres) for the throwaway test clusters.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    apt_install postgresql-15 || apt_install postgresql
fi
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || {
    echo "scripts/test.sh: no initdb under /usr/lib/postgresql/*/bin after installing PostgreSQL" >&2
    exit 1
}

# Node.js and npm for the official TypeScript SDK tests (tests/sdk).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
fi

echo "==> dotnet build Blnk.slnx -c Release"
dotnet build Blnk.slnx -c Release

results="$repo_root/.artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"
log="$results/dotnet-test.log"

echo "==> dotnet test Blnk.slnx -c Release --no-build"
set +e
dotnet test Blnk.slnx -c Release --no-build \
    --logger "console;verbosity=minimal" \
    --results-directory "$results" \
    --blame-hang-timeout 10m --blame-hang-dump-type none 2>&1 | tee "$log"
test_exit=${PIPESTATUS[0]}
set -e

# One VSTest summary line per test assembly, e.g.
# "Passed!  - Failed:     0, Passed:    42, Skipped:     1, Total:    43, Duration: 3 s - Blnk.Core.Tests.dll (net10.0)"
read -r passed failed skipped assemblies < <(
    sed -nE 's/.*(Passed|Failed)! +- +Failed: +([0-9]+), +Passed: +([0-9]+), +Skipped: +([0-9]+), +Total: +([0-9]+).*/\2 \3 \4/p' "$log" |
        awk '{ f += $1; p += $2; s += $3; n++ } END { printf "%d %d %d %d\n", p, f, s, n }'
)

status=0
if [ "$test_exit" -ne 0 ]; then
    echo "scripts/test.sh: dotnet test exited with $test_exit" >&2
    status=1
fi
if [ "$failed" -ne 0 ]; then
    status=1
fi
if [ $((passed + failed + skipped)) -eq 0 ]; then
    echo "scripts/test.sh: no test ran" >&2
    status=1
fi
echo "($assemblies test assemblies; full log: $log)"
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
