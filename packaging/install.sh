#!/bin/sh
# Installs (or removes) the gpu_monitor agent as a systemd service. Safe to run again.
#
#   sudo packaging/install.sh install   [--binary PATH] [--sums FILE]
#       binary, user, config, unit; starts it. The binary is checked against SHA256SUMS
#       (beside it, or --sums) and must start (--version, and doctor on the existing
#       config) before it replaces the installed one, which is kept for --rollback.
#       A unit file changed here is kept (the shipped one is put beside it for diff).
#   sudo packaging/install.sh rollback                    (or --rollback) the binary before the last install
#   sudo packaging/install.sh uninstall [--purge]         stops and removes it; --purge also
#                                                         removes the config, data, logs and user
#
# Hosts with dpkg or rpm: install the .deb/.rpm instead (README "Install").
#
# GPU_MONITOR_ROOT=/some/dir installs under that folder instead of / and touches neither
# users nor systemd (for packaging and tests).
set -eu

action=${1:-install}
[ $# -gt 0 ] && shift
[ "$action" = --rollback ] && action=rollback
binary=""
sums=""
purge=no
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --sums) sums=$2; shift 2 ;;
    --purge) purge=yes; shift ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

root=${GPU_MONITOR_ROOT:-}
here=$(cd "$(dirname "$0")" && pwd)
bin_path="$root/usr/local/bin/gpu_monitor"
config_dir="$root/etc/gpu_monitor"
unit_path="$root/etc/systemd/system/gpu-monitor.service"
state_dir="$root/var/lib/gpu_monitor"
log_dir="$root/var/log/gpu_monitor"
# The binary an install replaced (for rollback) and the unit as last shipped (to tell
# an admin's edit from an older shipped version).
keep_dir="$root/usr/local/lib/gpu_monitor"
previous_bin="$keep_dir/gpu_monitor.previous"
shipped_unit="$keep_dir/gpu-monitor.service"
user=gpu-monitor

refuse() { echo "install.sh: $*" >&2; exit 1; }

# The binary's line in SHA256SUMS must match; no SHA256SUMS at all is only a warning
# (a binary built here has none).
verify_checksum() {
  list=${sums:-$(dirname "$binary")/SHA256SUMS}
  name=$(basename "$binary")
  if [ ! -f "$list" ]; then
    [ -n "$sums" ] && refuse "no checksum list at $sums"
    echo "install.sh: no SHA256SUMS beside $binary: its checksum is not verified" >&2
    return 0
  fi
  expected=$(awk -v f="$name" '$2 == f || $2 == "*" f { print $1; exit }' "$list")
  if [ -z "$expected" ]; then
    [ -n "$sums" ] && refuse "$name is not listed in $list"
    echo "install.sh: $name is not listed in $list: its checksum is not verified" >&2
    return 0
  fi
  actual=$(sha256sum "$binary" | cut -d' ' -f1)
  [ "$actual" = "$expected" ] || refuse "$binary does not match its SHA256SUMS entry in $list (sha256 $actual, expected $expected): not installed"
}

# A new binary that cannot start, or cannot read the config in place, never replaces
# a working one. doctor exits 1 when a check fails (no GPU here, say): that is fine.
preflight() {
  "$binary" --version >/dev/null 2>&1 || refuse "$binary --version failed: it cannot run here, nothing was replaced"
  [ -f "$config_dir/config.json" ] || return 0
  status=0
  report=$("$binary" doctor --config "$config_dir/config.json" 2>&1) || status=$?
  if [ "$status" -gt 1 ] || printf '%s\n' "$report" | grep -q '^FAIL  config'; then
    printf '%s\n' "$report" >&2
    refuse "$binary doctor --config $config_dir/config.json failed (exit $status): nothing was replaced"
  fi
}

live() { [ -z "$root" ]; }
systemd_running() { live && [ -d /run/systemd/system ]; }

if live && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run it as root (sudo)" >&2
  exit 1
fi

case "$action" in
install)
  if [ -z "$binary" ]; then
    for candidate in "$here/../dist/gpu_monitor" "./gpu_monitor" "./gpu_monitor-linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')"; do
      [ -x "$candidate" ] && binary=$candidate && break
    done
  fi
  [ -n "$binary" ] && [ -x "$binary" ] || { echo "install.sh: no gpu_monitor binary found; pass --binary PATH" >&2; exit 1; }
  verify_checksum
  preflight

  mkdir -p "$(dirname "$bin_path")" "$config_dir" "$(dirname "$unit_path")" "$keep_dir"
  if [ -f "$bin_path" ] && ! cmp -s "$binary" "$bin_path"; then
    cp -p "$bin_path" "$previous_bin"
  fi
  install -m 0755 "$binary" "$bin_path.new"
  mv -f "$bin_path.new" "$bin_path"
  if live && ! getent passwd "$user" >/dev/null; then
    useradd --system --no-create-home --home-dir /var/lib/gpu_monitor --shell /usr/sbin/nologin "$user"
  fi
  if live && getent group video >/dev/null; then usermod -a -G video "$user"; fi
  if [ ! -f "$config_dir/config.json" ]; then
    cat > "$config_dir/config.json" <<'JSON'
{
  // Offline until you set server.url and server.contract_number (see the README).
  "collection": { "interval_seconds": 60, "aggregation_interval_hours": 1 },
  "database": { "file": "/var/lib/gpu_monitor/gpu_metrics.db" },
  // No logging.file: under systemd the journal holds the log (journalctl -u gpu-monitor).
  "logging": { "level": "INFO" }
}
JSON
    chmod 0640 "$config_dir/config.json"
    if live; then chgrp "$user" "$config_dir/config.json"; fi
  fi
  new_unit="$here/systemd/gpu-monitor.service"
  if [ ! -f "$unit_path" ] || cmp -s "$unit_path" "$new_unit" || { [ -f "$shipped_unit" ] && cmp -s "$unit_path" "$shipped_unit"; }; then
    install -m 0644 "$new_unit" "$unit_path"
  else
    echo "install.sh: $unit_path was changed here: kept it. The unit of this version is $shipped_unit; see the difference with: diff -u $unit_path $shipped_unit" >&2
  fi
  install -m 0644 "$new_unit" "$shipped_unit"
  if systemd_running; then
    systemctl daemon-reload
    systemctl enable gpu-monitor.service
    systemctl restart gpu-monitor.service
    echo "gpu_monitor installed and started: systemctl status gpu-monitor; gpu_monitor doctor -c $config_dir/config.json"
  else
    echo "gpu_monitor installed under ${root:-/} (systemd not started: enable gpu-monitor.service yourself)"
  fi
  ;;
uninstall)
  if systemd_running; then
    systemctl disable --now gpu-monitor.service 2>/dev/null || true
  fi
  rm -f "$unit_path" "$bin_path"
  rm -rf "$keep_dir"
  if systemd_running; then systemctl daemon-reload; fi
  if [ "$purge" = yes ]; then
    rm -rf "$config_dir" "$state_dir" "$log_dir"
    if live && getent passwd "$user" >/dev/null; then userdel "$user"; fi
    echo "gpu_monitor removed, with its config, data, logs and user"
  else
    echo "gpu_monitor removed; its config ($config_dir), data ($state_dir) and logs ($log_dir) are kept (--purge removes them)"
  fi
  ;;
rollback)
  [ -f "$bin_path" ] || refuse "gpu_monitor is not installed at $bin_path"
  [ -f "$previous_bin" ] || refuse "no previous binary in $previous_bin (an install keeps the one it replaces)"
  # A swap: rolling back twice returns to the newer binary.
  cp -p "$bin_path" "$bin_path.new"
  install -m 0755 "$previous_bin" "$bin_path"
  mv -f "$bin_path.new" "$previous_bin"
  if systemd_running; then systemctl try-restart gpu-monitor.service; fi
  echo "gpu_monitor rolled back to $("$bin_path" --version 2>/dev/null || echo "the previous binary")"
  ;;
*)
  echo "install.sh: install, rollback or uninstall, not '$action'" >&2
  exit 2
  ;;
esac
