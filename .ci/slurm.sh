#!/usr/bin/env bash
# A real single-node SLURM cluster on this host, for the cluster tests and for trying the
# slurm profile by hand.
#
#   .ci/slurm.sh start   install slurm-wlm and munge where missing, write a minimal
#                        slurm.conf and a gres.conf with fake GPUs, start munged, slurmctld
#                        and slurmd, wait until the node is idle, print `export SLURM_CONF=...`
#   .ci/slurm.sh stop    stop the daemons started by `start` and remove their state
#   .ci/slurm.sh status  sinfo of the running cluster
#
# Everything lives under $IOTSCOPE_SLURM_DIR (default /tmp/iotscope-slurm). Where the host has
# no /etc/slurm/slurm.conf, links to it are put there (and removed by `stop`), because the
# job steps that Snakemake's executor starts with srun look for the configuration there; a host
# that has its own SLURM configuration keeps it, and its clients then need SLURM_CONF. Needs
# root (the daemons run as root, and packages may need installing). No accounting database: use the executor plugin's
# `--slurm-status-command squeue` and `--slurm-no-account`.
set -euo pipefail

dir=${IOTSCOPE_SLURM_DIR:-/tmp/iotscope-slurm}
gpus=${IOTSCOPE_SLURM_GPUS:-4}
cpus=${IOTSCOPE_SLURM_CPUS:-4}
conf=$dir/etc/slurm.conf
node=$(hostname -s)

log() { echo "slurm.sh: $*" >&2; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        return
    fi
    if [ "$(id -u)" != 0 ]; then
        log "slurm-wlm and munge are missing and installing them needs root"
        exit 2
    fi
    log "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq slurm-wlm munge >/dev/null
}

write_config() {
    mkdir -p "$dir"/{etc,spool/ctld,spool/d,log,run,gpu}
    local memory
    memory=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
    # Stand-in GPU device files: character devices like /dev/null, one per fake GPU. SLURM
    # schedules them as gres/gpu and sets CUDA_VISIBLE_DEVICES from their indices.
    local i
    for i in $(seq 0 $((gpus - 1))); do
        [ -e "$dir/gpu/gpu$i" ] || mknod "$dir/gpu/gpu$i" c 1 3
    done
    cat >"$conf" <<EOF
ClusterName=iotscope
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/spool/ctld
SlurmdSpoolDir=$dir/spool/d
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=${IOTSCOPE_SLURMCTLD_PORT:-16817}
SlurmdPort=${IOTSCOPE_SLURMD_PORT:-16818}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
GresTypes=gpu
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
MinJobAge=300
KillWait=5
InactiveLimit=0
NodeName=$node CPUs=$cpus RealMemory=$memory Gres=gpu:$gpus State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    echo "NodeName=$node Name=gpu File=$dir/gpu/gpu[0-$((gpus - 1))]" >"$dir/etc/gres.conf"
    if [ ! -e /etc/slurm/slurm.conf ]; then
        mkdir -p /etc/slurm
        ln -s "$conf" /etc/slurm/slurm.conf
        ln -sf "$dir/etc/gres.conf" /etc/slurm/gres.conf
        touch "$dir/run/etc-links.made-here"
    fi
}

start_munge() {
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        return
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
    fi
    if id munge >/dev/null 2>&1; then
        runuser -u munge -- /usr/sbin/munged
    else
        /usr/sbin/munged --force
    fi
    touch "$dir/run/munged.started-here"
}

wait_idle() {
    local deadline=$((SECONDS + ${IOTSCOPE_SLURM_WAIT:-60}))
    while [ $SECONDS -lt $deadline ]; do
        local state
        state=$(SLURM_CONF=$conf sinfo -h -N -o '%t' 2>/dev/null | head -n 1 || true)
        case "$state" in
        idle) return 0 ;;
        down* | drain* | inval*)
            SLURM_CONF=$conf scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true
            ;;
        esac
        sleep 1
    done
    log "the node did not become idle; see $dir/log/"
    tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
    return 1
}

running() {
    [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

start() {
    if [ "$(id -u)" != 0 ]; then
        log "starting slurmctld and slurmd needs root"
        exit 2
    fi
    install_packages
    write_config
    start_munge
    if ! running "$dir/run/slurmctld.pid"; then
        if pgrep -x slurmctld >/dev/null; then
            log "another slurmctld runs on this host (pid $(pgrep -x slurmctld | head -n 1)); stop it first"
            exit 2
        fi
        slurmctld -f "$conf" -c
    fi
    running "$dir/run/slurmd.pid" || SLURM_CONF=$conf slurmd -f "$conf"
    wait_idle
    log "cluster up: node $node, $cpus CPUs, $gpus fake GPUs"
    echo "export SLURM_CONF=$conf"
}

stop_pidfile() {
    local pidfile=$1
    [ -s "$pidfile" ] || return 0
    local pid
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

stop() {
    [ -d "$dir" ] || return 0
    SLURM_CONF=$conf scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    stop_pidfile "$dir/run/slurmd.pid"
    stop_pidfile "$dir/run/slurmctld.pid"
    if [ -e "$dir/run/etc-links.made-here" ]; then
        rm -f /etc/slurm/slurm.conf /etc/slurm/gres.conf
    fi
    if [ -e "$dir/run/munged.started-here" ]; then
        pkill -x munged 2>/dev/null || true
    fi
    rm -rf "$dir"
    log "cluster stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) SLURM_CONF=$conf sinfo ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
