# Sourced by scripts that need a memory cgroup standing for a small Jetson (demo, benchmarks).
#
#   make_scope NAME BYTES   creates a child of this shell's own memory cgroup (v1 memory
#                           hierarchy, else cgroup v2) with that limit; sets $scope (the path
#                           as the hierarchy names it, for `scope = "cgroup:$scope"`) and
#                           $scope_dir (its directory). Exits with a hint when it cannot.
#   remove_scope            kills nothing: removes the agent's child cgroups, then the scope.
make_scope() {
  local name=$1 bytes=$2 own base limit_file
  own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup)
  if [ -n "$own" ] && [ -d /sys/fs/cgroup/memory ]; then
    base=/sys/fs/cgroup/memory; limit_file=memory.limit_in_bytes
  else
    own=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup); base=/sys/fs/cgroup; limit_file=memory.max
  fi
  scope="${own%/}/$name-$$"
  scope_dir="$base$scope"
  if ! mkdir "$scope_dir" 2>/dev/null; then
    echo "cannot create the memory cgroup $scope_dir (run as root, or delegate a cgroup)" >&2
    exit 1
  fi
  echo "$bytes" > "$scope_dir/$limit_file"
}

remove_scope() {
  [ -n "${scope_dir:-}" ] || return 0
  for d in "$scope_dir"/*/; do [ -d "$d" ] && rmdir "$d" 2>/dev/null || true; done
  rmdir "$scope_dir" 2>/dev/null || true
}
