# Sourced by scripts that need a memory cgroup standing for a small Jetson (demo, benchmarks).
#
#   make_scope NAME BYTES   creates a child of this shell's own memory cgroup (v1 memory
#                           hierarchy, else cgroup v2) with that limit; sets $scope (the path
#                           as the hierarchy names it, for `scope = "cgroup:$scope"`) and
#                           $scope_dir (its directory). Exits with a hint when it cannot.
#   require_scope WHAT      exits with a one-line hint unless make_scope can work (call it
#                           before building anything)
#   remove_scope            kills nothing: removes the agent's child cgroups, then the scope.
# Sets $scope_base (the hierarchy's mount), $scope_own (this shell's cgroup in it) and
# $scope_limit_file: the v1 memory hierarchy where this shell has one, else cgroup v2.
scope_parent() {
  scope_own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup)
  if [ -n "$scope_own" ] && [ -d /sys/fs/cgroup/memory ]; then
    scope_base=/sys/fs/cgroup/memory; scope_limit_file=memory.limit_in_bytes
  else
    scope_own=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup)
    scope_base=/sys/fs/cgroup; scope_limit_file=memory.max
  fi
}

# Exits with one line saying why and how to run WHAT when this shell cannot create a memory
# cgroup (not root, and no delegated cgroup): call it before any slow work.
require_scope() {
  local what=$1
  scope_parent
  [ -w "$scope_base${scope_own%/}" ] && return 0
  echo "$what needs root (or a delegated, writable memory cgroup) to create the memory cgroup that stands for the board; run: sudo $0" >&2
  exit 1
}

make_scope() {
  local name=$1 bytes=$2
  scope_parent
  scope="${scope_own%/}/$name-$$"
  scope_dir="$scope_base$scope"
  if ! mkdir "$scope_dir" 2>/dev/null; then
    echo "cannot create the memory cgroup $scope_dir (run as root, or delegate a cgroup)" >&2
    exit 1
  fi
  echo "$bytes" > "$scope_dir/$scope_limit_file"
}

remove_scope() {
  [ -n "${scope_dir:-}" ] || return 0
  for d in "$scope_dir"/*/; do [ -d "$d" ] && rmdir "$d" 2>/dev/null || true; done
  rmdir "$scope_dir" 2>/dev/null || true
}
