#!/usr/bin/env bash
# The install test of scripts/package.sh, on the machine itself (amd64, root): installs the
# package, uses it, purges it, and fails when the purge leaves a file behind.
#
#   scripts/lib/install-test.sh target/package/jetgate_VERSION_amd64.deb
#
#   1. dpkg -i: the jetgate group exists, jetgate.service is enabled, and it is started only on
#      a booted systemd host (in a container or chroot the postinst must succeed without it)
#   2. systemd-analyze verify of the installed unit (man page included), jetgate --version,
#      jetgate status --local; jetgate config check /etc/jetgate/jetgate.toml once the unit's
#      ExecStartPre has created the models' memory scope (step 3)
#   3. the agent as the unit starts it (its ExecStartPre, then its ExecStart) when systemd does
#      not run it: the control socket is 0660 root:jetgate, and `jetgate status` answers to
#      an unprivileged member of the group (setpriv) and is refused to a non-member
#   4. dpkg --purge: no file left in /etc /usr /var /opt /srv /run that was not there before,
#      except dpkg's own records and logs; /var/lib/jetgate and the group are gone
set -euo pipefail
deb=$1
die() { echo "error: install test: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (dpkg -i); run as root, or JETGATE_SKIP_INSTALL_TEST=1 outside CI"
arch=$(dpkg --print-architecture)
[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || die "$deb is not for this machine ($arch)"
for tool in setpriv getent stat systemd-analyze man; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done
if dpkg-query -W -f='${Status}' jetgate 2>/dev/null | grep -q installed; then
  die "jetgate is already installed here: dpkg --purge jetgate first (this test must see a clean machine)"
fi
getent group jetgate >/dev/null && die "a jetgate group exists before the install"

snapshot() {
  find /etc /usr /var /opt /srv /run -xdev \
    \( -path /var/lib/dpkg -o -path /var/log -o -path /var/cache -o -path /var/tmp -o -path /run/user \) -prune \
    -o -print 2>/dev/null | sort
}
before=$(mktemp) after=$(mktemp)
agent_pid=""
made_scope=""
cleanup() {
  if [ -n "$agent_pid" ]; then kill "$agent_pid" 2>/dev/null || true; wait "$agent_pid" 2>/dev/null || true; fi
  [ -z "$made_scope" ] || rmdir "$made_scope" 2>/dev/null || true
  rm -f "$before" "$after"
}
trap cleanup EXIT
snapshot >"$before"

echo "dpkg -i $deb"
dpkg -i "$deb"
getent group jetgate || die "the postinst did not create the jetgate group"
wants=/etc/systemd/system/multi-user.target.wants/jetgate.service
[ -L "$wants" ] || die "jetgate.service is not enabled ($wants missing)"
echo "enabled: $wants -> $(readlink "$wants")"
systemd_runs=0
if [ -d /run/systemd/system ] && ! systemd-detect-virt --quiet --container 2>/dev/null; then
  systemd_runs=1
fi

# The installed unit on this host, its man page (Documentation=man:jetgate(1)) included.
systemd-analyze verify /lib/systemd/system/jetgate.service
echo "systemd-analyze verify /lib/systemd/system/jetgate.service: no problems"
jetgate --version
jetgate status --local >/dev/null || die "jetgate status --local failed"
echo "jetgate status --local: ok"

if [ "$systemd_runs" = 1 ]; then
  systemctl is-active --quiet jetgate || die "jetgate.service is not running after the install"
  echo "jetgate.service started by the postinst (booted systemd host)"
else
  [ ! -e /run/jetgate/control.sock ] || die "an agent runs after an install without systemd"
  echo "not started: no booted systemd here; starting the agent as the unit would"
  unit=/lib/systemd/system/jetgate.service
  pre=$(sed -n 's/^ExecStartPre=+//p' "$unit")
  scope_dir=/sys/fs/cgroup/jetgate-models
  [ -d /sys/fs/cgroup/memory ] && scope_dir=/sys/fs/cgroup/memory/jetgate-models
  [ -d "$scope_dir" ] || made_scope=$scope_dir
  eval "$pre" || die "the unit's ExecStartPre failed: $pre"
  mkdir -p /var/lib/jetgate /run/jetgate
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
  STATE_DIRECTORY=/var/lib/jetgate $exec_start >/dev/null 2>&1 &
  agent_pid=$!
  for _ in $(seq 100); do
    [ -S /run/jetgate/control.sock ] && break
    kill -0 "$agent_pid" 2>/dev/null || die "the agent exited at start: $exec_start"
    sleep 0.1
  done
  [ -S /run/jetgate/control.sock ] || die "no control socket after 10 s"
fi
# After the unit's ExecStartPre has created the models' scope: config check refuses a scope
# cgroup that does not exist, as the agent would at start.
jetgate config check /etc/jetgate/jetgate.toml
perm=$(stat -c '%a %U:%G' /run/jetgate/control.sock)
echo "control socket: $perm"
[ "$perm" = "660 root:jetgate" ] || die "the control socket is $perm, not 660 root:jetgate"
gid=$(getent group jetgate | cut -d: -f3)
setpriv --reuid=65534 --regid=65534 --groups="$gid" jetgate status >/dev/null ||
  die "a member of the jetgate group cannot use the control socket"
echo "a member of the jetgate group (uid nobody) can use jetgate status"
if setpriv --reuid=65534 --regid=65534 --clear-groups jetgate status >/dev/null 2>&1; then
  die "a user outside the jetgate group can use the control socket"
fi
echo "a user outside the group is refused"
if [ -n "$agent_pid" ]; then
  kill -TERM "$agent_pid"
  wait "$agent_pid" || die "the agent did not exit 0 on SIGTERM"
  agent_pid=""
  rm -rf /run/jetgate # RuntimeDirectory=: systemd removes it when the unit stops
  [ -z "$made_scope" ] || rmdir "$made_scope"
  made_scope=""
fi
[ -d /var/lib/jetgate ] && echo "state: $(ls /var/lib/jetgate | tr '\n' ' ')"

echo "dpkg --purge jetgate"
dpkg --purge jetgate
snapshot >"$after"
left=$(comm -13 "$before" "$after")
if [ -n "$left" ]; then
  echo "$left" >&2
  die "dpkg --purge left these files behind"
fi
[ ! -e /var/lib/jetgate ] || die "/var/lib/jetgate survived the purge"
! getent group jetgate >/dev/null || die "the jetgate group survived the purge"
echo "purged: no file left behind in /etc /usr /var /opt /srv /run; state and group removed"
