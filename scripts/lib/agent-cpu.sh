# Sourced by the bench scripts: measure_agent PID SECONDS prints the agent's CPU share over
# SECONDS (utime + stime from /proc/PID/stat) and its VmRSS, VmHWM and thread count.
measure_agent() {
  local pid=$1 seconds=$2 ticks c0 c1 t0 t1
  ticks=$(getconf CLK_TCK)
  c0=$(awk '{print $14 + $15}' "/proc/$pid/stat"); t0=$(date +%s.%N)
  sleep "$seconds"
  c1=$(awk '{print $14 + $15}' "/proc/$pid/stat"); t1=$(date +%s.%N)
  awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" 'BEGIN {
    s = (c1 - c0) / hz; w = t1 - t0
    printf "cpu: %.2f s over %.1f s = %.3f %% of one core\n", s, w, 100 * s / w }'
  grep -E "VmRSS|VmHWM|Threads" "/proc/$pid/status"
}
