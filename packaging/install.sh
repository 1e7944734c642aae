#!/bin/sh
# Installs (or removes) the gpu_monitor agent as a systemd service. Safe to run again.
#
#   sudo packaging/install.sh install   [--binary PATH]   binary, user, config, unit; starts it
#   sudo packaging/install.sh uninstall [--purge]         stops and removes it; --purge also
#                                                         removes the config, data, logs and user
#
# GPU_MONITOR_ROOT=/some/dir installs under that folder instead of / and touches neither
# users nor systemd (for packaging and tests).
set -eu

action=${1:-install}
[ $# -gt 0 ] && shift
binary=""
purge=no
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
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
user=gpu-monitor

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

  mkdir -p "$(dirname "$bin_path")" "$config_dir" "$(dirname "$unit_path")"
  install -m 0755 "$binary" "$bin_path"
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
  "logging": { "file": "/var/log/gpu_monitor/gpu_monitor.log", "level": "INFO" }
}
JSON
    chmod 0640 "$config_dir/config.json"
    if live; then chgrp "$user" "$config_dir/config.json"; fi
  fi
  install -m 0644 "$here/systemd/gpu-monitor.service" "$unit_path"
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
  if systemd_running; then systemctl daemon-reload; fi
  if [ "$purge" = yes ]; then
    rm -rf "$config_dir" "$state_dir" "$log_dir"
    if live && getent passwd "$user" >/dev/null; then userdel "$user"; fi
    echo "gpu_monitor removed, with its config, data, logs and user"
  else
    echo "gpu_monitor removed; its config ($config_dir), data ($state_dir) and logs ($log_dir) are kept (--purge removes them)"
  fi
  ;;
*)
  echo "install.sh: install or uninstall, not '$action'" >&2
  exit 2
  ;;
esac
