# Shared by scripts/test.sh and bench/run.sh (sourced, not run): install missing Debian packages as root.
# The caller sets `script_name` for messages.

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -E "$@"
    else
        echo "${script_name:-install}: need root (or sudo) to run: $*" >&2
        return 1
    fi
}

apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        echo "==> apt-get update"
        as_root apt-get update -qq
        apt_updated=1
    fi
    echo "==> apt-get install $*"
    as_root apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "$@" >/dev/null
}
