#!/bin/sh
# Runs in the interop guest (copied to the 9p share as guest.sh; ndcm-init starts it).
# Executes the steps listed in /mnt/share/steps, one per line:
#   NAME run   SECONDS COMMAND...   run COMMAND, wait for it to end
#   NAME serve SECONDS COMMAND...   start COMMAND, signal NAME.ready once it listens, wait for it to end
#   NAME wait  SECONDS              signal NAME.ready, wait until the host writes NAME.go
# Each step leaves NAME.out (output) and NAME.rc (exit status; 124 = timed out) in the share.
# Commands see NDCM_PEER (ndcm's address) and NDCM_GUEST_IP (this guest's).
S=/mnt/share
echo "guest kernel: $(uname -r) ($(cut -d' ' -f3 /proc/version) $(uname -v))"
cat /sys/class/infiniband/rxe0/ports/1/gids/1
cm_counters() {  # the kernel CM's per-message counters, to tell retries and MRAs apart
  for d in /sys/class/infiniband/rxe0/ports/1/cm_*; do
    [ -d "$d" ] && for f in "$d"/*; do printf '%s/%s=%s\n' "${d##*/}" "${f##*/}" "$(cat "$f")"; done
  done
}
listeners() { rdma res show cm_id 2>/dev/null | grep -c 'state LISTEN'; }
while read -r name kind secs cmd; do
  [ -z "$name" ] && continue
  case "$name" in \#*) continue;; esac
  echo "== step $name ($kind, ${secs}s): $cmd"
  cm_counters > "$S/$name.cm-before"
  t0=$(date +%s.%N)
  case $kind in
    run)
      timeout "$secs" sh -c "$cmd" > "$S/$name.out" 2>&1 < /dev/null; rc=$?;;
    serve)
      before=$(listeners)
      timeout "$secs" sh -c "$cmd" > "$S/$name.out" 2>&1 < /dev/null &
      pid=$!
      # Ready once the kernel shows one more listening rdma_cm ID (a slow start under TCG
      # must not turn into "no listener"); give up waiting after 30 s.
      i=0
      while [ "$(listeners)" -le "$before" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
      touch "$S/$name.ready"
      wait $pid; rc=$?;;
    wait)
      touch "$S/$name.ready"; rc=124; i=0
      while [ $i -lt $((secs * 10)) ]; do
        [ -e "$S/$name.go" ] && { rc=0; break; }
        sleep 0.1; i=$((i + 1))
      done;;
    *) echo "unknown step kind $kind"; rc=2;;
  esac
  t1=$(date +%s.%N)
  cm_counters > "$S/$name.cm-after"
  # Written whole, then renamed: the host polls for this file.
  echo "$rc" > "$S/$name.rc.tmp" && mv "$S/$name.rc.tmp" "$S/$name.rc"
  echo "   rc=$rc in $(awk "BEGIN{printf \"%.3f\", $t1 - $t0}")s"
done < "$S/steps"
echo "== all steps done"
sync
