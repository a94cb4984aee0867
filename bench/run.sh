#!/usr/bin/env bash
# The benchmark, one command: bash bench/run.sh [--quick]
#
# Builds the server and the load generator in Release, installs what is missing (PostgreSQL 15 with pgbench,
# gnuplot), starts a throwaway PostgreSQL on loopback (fsync and synchronous_commit on), measures the pgbench
# TPC-B baseline on it, then runs the workloads of /work/shared/bench/WORKLOADS.md (see bench/README.md) against
# the server on PostgreSQL and then on SQLite, verifying money and every acknowledged transfer after each, and
# the proofs of correctness under load (two processes, a hot balance funded for half its debits, a SIGKILL).
# Prints one table; writes bench/results/latest.json and bench/results/latest.png. Stops everything it started on
# exit, Ctrl-C included. Exit status: 0 when every workload ran and verified, non-zero otherwise.
#
# --quick: a smoke check (5 s per workload, W6 with 10,000 transfers, pgbench for 5 s), not a measurement.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo_root="$(pwd)"
results_dir="$repo_root/bench/results"

quick=0
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/run.sh: unknown argument '$arg' (usage: bash bench/run.sh [--quick])" >&2; exit 2 ;;
    esac
done
if [ "$quick" -eq 1 ]; then
    duration=5 warmup=1 queued=10000 pgbench_seconds=5 hot_debits=2000
else
    duration=15 warmup=3 queued=100000 pgbench_seconds=15 hot_debits=10000
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DEBIAN_FRONTEND=noninteractive
pg_bin=/usr/lib/postgresql/15/bin

script_name=bench/run.sh
# shellcheck source=scripts/lib/install.sh
source scripts/lib/install.sh  # the working directory is the repo root here

# --- what the benchmark needs ------------------------------------------------------------------------------------
if [ ! -x "$pg_bin/initdb" ] || [ ! -x "$pg_bin/pg_ctl" ] || [ ! -x "$pg_bin/pgbench" ]; then
    apt_install postgresql-15 postgresql-contrib
fi
for tool in initdb pg_ctl pgbench psql createdb; do
    [ -x "$pg_bin/$tool" ] || { echo "bench/run.sh: $pg_bin/$tool missing after installing PostgreSQL 15" >&2; exit 1; }
done
command -v gnuplot >/dev/null 2>&1 || apt_install gnuplot-nox
command -v curl >/dev/null 2>&1 || apt_install curl
id postgres >/dev/null 2>&1 || { echo "bench/run.sh: no 'postgres' user to run PostgreSQL as" >&2; exit 1; }

# --- build -------------------------------------------------------------------------------------------------------
echo "==> dotnet build (Release): server and load generator"
dotnet build src/Blnk.Server/Blnk.Server.csproj -c Release -nologo -v quiet
dotnet build bench/Blnk.Bench/Blnk.Bench.csproj -c Release -nologo -v quiet

work="$(mktemp -d /tmp/blnk-bench.XXXXXX)"
chmod 755 "$work"
# A private copy of the server build: a rebuild of src/ while the benchmark runs cannot swap it underneath us.
cp -r src/Blnk.Server/bin/Release/net10.0 "$work/server"
bench_dll="$work/bench/Blnk.Bench.dll"
cp -r bench/Blnk.Bench/bin/Release/net10.0 "$work/bench"

# --- cleanup: everything started here is stopped here ------------------------------------------------------------
server_pid=""
pg_data=""
stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
stop_postgres() {
    if [ -n "$pg_data" ] && [ -f "$pg_data/postmaster.pid" ]; then
        runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    pg_data=""
}
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_server
    stop_postgres
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'echo; echo "bench/run.sh: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# A port nobody uses, below the kernel's ephemeral range: a port the client side of some connection holds (or
# held: TIME_WAIT) refuses connections yet cannot be bound, so candidates also skip every port in /proc/net/tcp*.
free_port() {
    local port low=20000 high=32767 ephemeral_low used local_address
    if read -r ephemeral_low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null && [ "$ephemeral_low" -gt 10000 ]; then
        high=$((ephemeral_low - 1))
        [ "$low" -lt "$high" ] || low=$((high / 2))
    fi
    used=" "
    while read -r _ local_address _; do
        [[ "$local_address" == *:* ]] && used+="$((16#${local_address##*:})) "
    done < <(tail -q -n +2 /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    for port in $(shuf -i "$low-$high" -n 200); do
        case "$used" in *" $port "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "bench/run.sh: no free TCP port found" >&2
    return 1
}

# --- a throwaway PostgreSQL on loopback ----------------------------------------------------------------------------
echo "load average: $(cat /proc/loadavg) (other work on this machine moves every number; compare ratios)"
echo "==> PostgreSQL 15 in $work/pg (fsync=on, synchronous_commit=on)"
mkdir -p "$work/pg"
chown postgres:postgres "$work/pg"
runuser -u postgres -- "$pg_bin/initdb" -D "$work/pg/data" -U postgres --auth=trust -E UTF8 --no-locale \
    >"$work/pg/initdb.log" 2>&1 || { cat "$work/pg/initdb.log" >&2; exit 1; }
pg_port="$(free_port)"
cat >>"$work/pg/data/postgresql.conf" <<CONF

# bench/run.sh: throwaway benchmark cluster, loopback only, durability on.
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$work/pg'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 300
shared_buffers = 512MB
CONF
pg_data="$work/pg/data"
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -l "$work/pg/postgres.log" -w -t 60 start >/dev/null ||
    { cat "$work/pg/postgres.log" >&2; exit 1; }
pg=(-h 127.0.0.1 -p "$pg_port" -U postgres)
"$pg_bin/createdb" "${pg[@]}" pgbench
"$pg_bin/createdb" "${pg[@]}" blnk_bench

# --- the baseline: pgbench TPC-B on the same PostgreSQL ------------------------------------------------------------
pgbench_command="pgbench -c 16 -j 2 -T $pgbench_seconds -M prepared (after pgbench -i -s 10)"
echo "==> pgbench -i -s 10"
"$pg_bin/pgbench" "${pg[@]}" -i -s 10 -q pgbench >"$work/pgbench-init.log" 2>&1 ||
    { cat "$work/pgbench-init.log" >&2; exit 1; }
echo "==> $pgbench_command"
"$pg_bin/pgbench" "${pg[@]}" -c 16 -j 2 -T "$pgbench_seconds" -M prepared -P 1 pgbench 2>&1 |
    tee "$work/pgbench.log" | grep --line-buffered '^progress' ||
    { echo "bench/run.sh: pgbench failed:" >&2; cat "$work/pgbench.log" >&2; exit 1; }
pgbench_tps="$(sed -nE 's/^tps = ([0-9.]+) .*/\1/p' "$work/pgbench.log" | head -n 1)"
[ -n "$pgbench_tps" ] || { echo "bench/run.sh: no tps in pgbench's output:" >&2; cat "$work/pgbench.log" >&2; exit 1; }
echo "pgbench TPC-B: $pgbench_tps tps"

# --- the server on each storage ------------------------------------------------------------------------------------
mkdir -p "$results_dir"
if env | grep -q '^BLNK_'; then
    echo "note: BLNK_* variables in the environment reach the server: $(env | grep -o '^BLNK_[A-Z_]*' | tr '\n' ' ')"
fi
status=0
parts=()
run_storage() {
    local storage="$1" dns="$2" port
    port="$(free_port)"
    mkdir -p "$work/$storage"
    echo "==> server on $storage (port $port)"
    # The server's working directory is empty: no blnk.json from the repo, no ./data.
    (cd "$work/$storage" && BLNK_SERVER_PORT="$port" BLNK_DATA_SOURCE_DNS="$dns" \
        exec dotnet "$work/server/Blnk.Server.dll") >"$results_dir/server-$storage.log" 2>&1 &
    server_pid=$!
    local up=0
    for _ in $(seq 1 300); do
        if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then up=1; break; fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.2
    done
    if [ "$up" -ne 1 ]; then
        echo "bench/run.sh: the server on $storage did not come up; its log:" >&2
        cat "$results_dir/server-$storage.log" >&2
        status=1
        stop_server
        return
    fi
    dotnet "$bench_dll" run --url "http://127.0.0.1:$port" --storage "$storage" --server-pid "$server_pid" \
        --duration "$duration" --warmup "$warmup" --queued "$queued" --pgbench-tps "$pgbench_tps" \
        --out "$work/result-$storage.json" || status=1
    parts+=("$work/result-$storage.json")
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "bench/run.sh: the server on $storage exited during the run; see $results_dir/server-$storage.log" >&2
        status=1
    fi
    stop_server
    if grep -nE '^(crit|fail|error)|Exception' "$results_dir/server-$storage.log" | head -n 20 | grep .; then
        echo "bench/run.sh: the server on $storage logged the errors above ($results_dir/server-$storage.log)" >&2
    fi
}

# The proofs of correctness under load (P1-P3): the bench starts, kills and restarts its own server processes
# on the same storage (fresh currencies); their logs go to bench/results/proofs-<storage>/.
run_proofs() {
    local storage="$1" dns="$2"
    shift 2
    echo "==> proofs of correctness under load on $storage"
    rm -rf "$results_dir/proofs-$storage"
    dotnet "$bench_dll" prove --server-dll "$work/server/Blnk.Server.dll" --storage "$storage" --data-source "$dns" \
        --dir "$results_dir/proofs-$storage" --duration "$duration" --hot-debits "$hot_debits" "$@" \
        --out "$work/proofs-$storage.json" || status=1
    parts+=("$work/proofs-$storage.json")
}

pg_dns="postgres://postgres@127.0.0.1:$pg_port/blnk_bench?sslmode=disable"
run_storage postgres "$pg_dns"
run_proofs postgres "$pg_dns" --two-processes
stop_postgres # SQLite runs on a quiet machine
run_storage sqlite "sqlite:$work/sqlite/blnk.db"
run_proofs sqlite "sqlite:$work/sqlite/blnk.db"

# --- the table, the JSON, the chart ------------------------------------------------------------------------------
echo
echo "==> results"
quick_flag=()
if [ "$quick" -eq 1 ]; then quick_flag=(--quick); fi
dotnet "$bench_dll" report --pgbench-tps "$pgbench_tps" --pgbench-command "$pgbench_command" "${quick_flag[@]}" \
    --out "$results_dir/latest.json" --chart-data "$results_dir/latest.dat" "${parts[@]}" || status=1
subtitle="$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
[ "$quick" -eq 0 ] || subtitle="$subtitle, --quick smoke run"
if gnuplot -e "datafile='$results_dir/latest.dat'; outfile='$results_dir/latest.png'; pgbench=$pgbench_tps; subtitle='$subtitle'" \
    bench/plot.gp; then
    echo "chart:   $results_dir/latest.png"
else
    echo "bench/run.sh: gnuplot failed to draw the chart" >&2
    status=1
fi
exit "$status"
