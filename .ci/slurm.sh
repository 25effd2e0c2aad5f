#!/usr/bin/env bash
# A real single-node Slurm cluster (slurmctld + slurmd + munged) for tests/it/slurm.rs,
# started by .ci/run under CI. Debian 12 (slurm-wlm 22.05, munge 0.5.15), as root, no
# systemd, no cgroups, no accounting; everything lives under one folder in /tmp.
# Adapted from a tested reference (single-node.sh); the pitfalls it handles are noted
# where they are handled.
#
#   .ci/slurm.sh install          # apt-get the 4 packages needed, unless present
#   eval "$(.ci/slurm.sh start)"  # exports SLURM_CONF; every client needs it
#   .ci/slurm.sh status           # 0 if this script's cluster is up and its node usable
#   .ci/slurm.sh wait JOBID...    # poll squeue until gone; rc != 0 unless all COMPLETED
#   .ci/slurm.sh stop             # cancel jobs, scontrol shutdown, kill munged by pid
#   .ci/slurm.sh env              # prints the export line again
#
# `start` where this cluster already runs and answers reuses it; where something else (a
# system Slurm) holds the default ports, it takes the next free pair (unless the ports
# were given). Environment: SLURM_CI_DIR (default /tmp/slurm-ci), SLURM_CI_CTLD_PORT
# (6817), SLURM_CI_SLURMD_PORT (6818), SLURM_CI_NODE (default: hostname -s),
# SLURM_CI_CPUS (default: nproc), SLURM_CI_TIMEOUT (seconds per wait, default 60),
# SLURM_CI_SCHED_PARAMS (SchedulerParameters, default batch_sched_delay=0).
set -euo pipefail

DIR=${SLURM_CI_DIR:-/tmp/slurm-ci}
CTLD_PORT=${SLURM_CI_CTLD_PORT:-6817}
SLURMD_PORT=${SLURM_CI_SLURMD_PORT:-6818}
HOST=$(uname -n); HOST=${HOST%%.*}   # slurmctld insists SlurmctldHost == its short hostname
NODE=${SLURM_CI_NODE:-$HOST}         # slurmd is told its name with -N, so any name works
CPUS=${SLURM_CI_CPUS:-$(nproc)}
TIMEOUT=${SLURM_CI_TIMEOUT:-60}
CONF=$DIR/etc/slurm.conf
MSOCK=$DIR/munge/munge.socket
PID_FILES=(slurmctld.pid slurmd.pid munge/munged.pid)
export SLURM_CONF=$CONF

log() { printf '[slurm-ci %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; dump_logs; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
# alive PID: running and not a zombie (where PID 1 is no real init, exited daemons can
# sit as zombies for a while and kill -0 would still succeed)
alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$st" != Z ] && [ "$st" != X ]
}
# ours PID: alive and one of the daemons this script starts (a stale pid file's pid may
# have been reused by an unrelated process)
ours() { alive "${1:-}" && case "$(cat "/proc/$1/comm" 2>/dev/null)" in
  slurmctld|slurmd|munged) return 0 ;; *) return 1 ;; esac; }
pidof_file() { [ -s "$1" ] && cat "$1" || true; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
node_state() { sinfo -h -n "$NODE" -o %t 2>/dev/null || true; }

dump_logs() {
  local f
  for f in "$DIR"/log/slurmctld.log "$DIR"/log/slurmd.log "$DIR"/munge/munged.log; do
    [ -f "$f" ] && { echo "===== $f (tail)" >&2; tail -n 30 "$f" >&2; }
  done
  return 0
}

# wait_until SECONDS CMD...: poll CMD every 0.5 s
wait_until() {
  local t=$1 i; shift
  for ((i = 0; i < t * 2; i++)); do "$@" && return 0; sleep 0.5; done
  return 1
}

cmd_install() {
  local t0; t0=$(now)
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
     command -v sbatch >/dev/null && command -v munged >/dev/null; then
    log "slurm + munge already installed ($(slurmctld -V))"; return 0
  fi
  # The slurm-wlm metapackage also drags in ~35 plugin and -dev packages through
  # Recommends; these four (and their hard dependencies) are all that is needed.
  apt-cache show slurmctld >/dev/null 2>&1 || apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
  log "installed $(slurmctld -V) in $(since "$t0")"
}

# status: this script's three daemons run and its node takes jobs (clients read the
# ports from $DIR's slurm.conf, so a cluster started on other ports is found as well).
cmd_status() {
  local f
  for f in "${PID_FILES[@]}"; do ours "$(pidof_file "$DIR/$f")" || return 1; done
  case "$(node_state)" in idle|mix|alloc|comp) return 0 ;; *) return 1 ;; esac
}

# pick_ports: the default pair, or where something else holds one of them the next free
# pair; ports given through the environment are used as given or refused.
pick_ports() {
  local p c
  if [ -n "${SLURM_CI_CTLD_PORT:-}${SLURM_CI_SLURMD_PORT:-}" ]; then
    for p in "$CTLD_PORT" "$SLURMD_PORT"; do
      ! port_busy "$p" || die "port $p on 127.0.0.1 already in use (SLURM_CI_*_PORT)"
    done
    return 0
  fi
  for ((c = CTLD_PORT; c < CTLD_PORT + 200; c += 2)); do
    if ! port_busy "$c" && ! port_busy $((c + 1)); then
      [ "$c" = "$CTLD_PORT" ] || log "ports $CTLD_PORT/$SLURMD_PORT in use; taking $c/$((c + 1))"
      CTLD_PORT=$c; SLURMD_PORT=$((c + 1)); return 0
    fi
  done
  die "no free pair of ports from $CTLD_PORT on 127.0.0.1"
}

cmd_start() {
  local t0 f; t0=$(now)
  [ "$(id -u)" = 0 ] || die "must run as root"
  if cmd_status; then
    log "cluster already up (node $NODE $(node_state), $CONF): reusing it"
    echo "export SLURM_CONF=$CONF"; return 0
  fi
  for f in "${PID_FILES[@]}"; do
    if ours "$(pidof_file "$DIR/$f")"; then
      log "daemons of an earlier start run but the cluster does not answer: stopping them"
      cmd_stop; break
    fi
  done
  pick_ports

  # Fresh state every time: a leftover StateSaveLocation would bring back old jobs.
  if [ -e "$DIR" ]; then
    [ -e "$DIR/.slurm-ci" ] || die "$DIR exists and was not made by this script"
    rm -rf "$DIR"
  fi
  mkdir -p "$DIR"/{etc,state,spool,log}
  touch "$DIR/.slurm-ci"
  chmod 755 "$DIR"   # the munge user must be able to traverse to its socket's folder

  # munge: its own key, socket, pid and log under $DIR, run as the munge user. The
  # socket's folder must be 0755 (munged: "execute permissions for all required").
  install -d -o munge -g munge -m 755 "$DIR/munge"
  dd if=/dev/urandom bs=1 count=1024 of="$DIR/munge/munge.key" status=none
  chown munge:munge "$DIR/munge/munge.key"; chmod 400 "$DIR/munge/munge.key"
  runuser -u munge -- munged \
    --key-file="$DIR/munge/munge.key" --socket="$MSOCK" \
    --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" \
    --seed-file="$DIR/munge/munged.seed" --origin=127.0.0.1 </dev/null >/dev/null 2>&1 ||
    die "munged failed to start"
  munge -n -S "$MSOCK" | unmunge -S "$MSOCK" >/dev/null || die "munge round trip failed"

  # RealMemory from slurmd -C, so that jobs asking for --mem can be placed (the default
  # is 1 MB); more than slurmd detects would drain the node.
  local mem; mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n1)
  cat >"$CONF" <<EOF
# written by .ci/slurm.sh start
ClusterName=ci
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MSOCK
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
# Cancel jobs whose afterok dependency failed instead of leaving them PENDING forever
# (22.05 reads DependencyParameters; SchedulerParameters=kill_invalid_depend is ignored).
DependencyParameters=kill_invalid_depend
# The default batch_sched_delay=3 adds about 3 s per wave of array tasks; 0 about 1 s.
SchedulerParameters=${SLURM_CI_SCHED_PARAMS:-batch_sched_delay=0}
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=${mem:-1} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

  # Both daemonize themselves; stdio to files so that a CI step reading our output
  # through a pipe does not hang on inherited descriptors.
  slurmctld -c -f "$CONF" </dev/null >>"$DIR/log/slurmctld.stdio" 2>&1 || die "slurmctld failed to start"
  slurmd -c -f "$CONF" -N "$NODE" </dev/null >>"$DIR/log/slurmd.stdio" 2>&1 || die "slurmd failed to start"

  node_idle() { [ "$(node_state)" = idle ]; }
  wait_until "$TIMEOUT" node_idle || {
    sinfo -N -l >&2 || true; scontrol show node "$NODE" >&2 || true
    die "node $NODE not idle after ${TIMEOUT}s"
  }
  log "cluster up: node $NODE idle, $CPUS CPUs, ports $CTLD_PORT/$SLURMD_PORT, start took $(since "$t0")"
  echo "export SLURM_CONF=$CONF"
}

cmd_stop() {
  local t0 f pid pids=(); t0=$(now)
  # slurmctld and slurmd delete their pid files while exiting: read every pid first.
  for f in "${PID_FILES[@]}"; do
    pid=$(pidof_file "$DIR/$f"); pids+=("${pid:-none}")
  done
  if ours "${pids[0]}"; then
    # scontrol shutdown leaves running jobs alone (their slurmstepd would outlive
    # slurmd), so everything is cancelled first.
    scancel --quiet --partition=debug 2>/dev/null || true
    no_jobs() { [ -z "$(squeue -h -o %i 2>/dev/null)" ]; }
    wait_until 30 no_jobs || log "warning: jobs still listed after scancel"
    scontrol shutdown >/dev/null 2>&1 || log "warning: scontrol shutdown failed"
  fi
  # Wait for slurmctld, slurmd, then munged (Slurm needs munge to the end), escalating
  # to SIGTERM and SIGKILL for our own pids only, never for anything found by name.
  for pid in "${pids[@]}"; do
    ours "$pid" || continue
    gone() { ! alive "$pid"; }
    if [ "$pid" = "${pids[2]}" ]; then kill "$pid" 2>/dev/null || true; fi
    wait_until 15 gone && continue
    log "pid $pid still alive, SIGTERM"; kill "$pid" 2>/dev/null || true
    wait_until 5 gone && continue
    log "pid $pid still alive, SIGKILL"; kill -9 "$pid" 2>/dev/null || true
  done
  log "stopped in $(since "$t0") (logs kept in $DIR/log)"
}

# wait JOBID...: poll squeue every 0.5 s until the jobs (every array task) have left the
# queue, then fail unless every task ended COMPLETED. Without accounting there is no
# sacct: the final state comes from scontrol, which keeps finished jobs for MinJobAge
# (300 s by default). `sbatch --wait` would poll with back-off (2 s, 8 s, 32 s).
cmd_wait() {
  local id states
  for id in "$@"; do
    gone() { [ -z "$(squeue -h -j "$id" 2>/dev/null)" ]; }
    wait_until "$TIMEOUT" gone || { log "job $id still queued after ${TIMEOUT}s"; return 1; }
    states=$(scontrol -o show job "$id" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | sort | uniq -c | xargs)
    case "$states" in
      # Every task COMPLETED: exactly one distinct state (xargs joined them on one line).
      *JobState=COMPLETED) [ "$(echo "$states" | grep -o JobState | wc -l)" = 1 ] && continue ;;
    esac
    log "job $id: ${states:-no record left (purged after MinJobAge?)}"; return 1
  done
}

case "${1:-}" in
  install) cmd_install ;;
  start)   cmd_start ;;
  status)  cmd_status ;;
  stop)    cmd_stop ;;
  wait)    shift; cmd_wait "$@" ;;
  env)     echo "export SLURM_CONF=$CONF" ;;
  *) echo "usage: $0 {install|start|status|wait JOBID...|stop|env}" >&2; exit 2 ;;
esac
