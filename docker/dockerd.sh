#!/usr/bin/env bash
# A Docker engine for CI and hosts without systemd: `start` uses the engine that answers, or installs
# docker.io (Debian) and starts dockerd in the background; `stop` stops only the dockerd that
# `start` started (by its pid) and removes what dockerd leaves behind: its iptables rules and
# chains, the docker0 bridge and the ip_forward it switched on.
#
#   docker/dockerd.sh start STATE_DIR    # prints "started PID" or "running" (an engine that was there)
#   docker/dockerd.sh stop STATE_DIR     # no-op when start found a running engine
set -euo pipefail

action=${1:?usage: dockerd.sh start|stop STATE_DIR}
state=${2:?usage: dockerd.sh start|stop STATE_DIR}

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

start() {
    if command -v docker >/dev/null 2>&1 && engine_answers; then
        rm -f "$state/dockerd.pid"  # someone else's engine (or an earlier run's): not ours to stop
        echo "running"
        return 0
    fi
    if ! command -v dockerd >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 || { echo "no dockerd and no apt-get to install docker.io" >&2; return 1; }
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io) >/dev/null
    fi
    mkdir -p "$state"
    cat /proc/sys/net/ipv4/ip_forward >"$state/ip_forward.before"
    ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 >"$state/links.before" || true
    iptables -S FORWARD 2>/dev/null | awk '$1 == "-P" {print $3}' >"$state/forward_policy.before" || true
    # setsid: the engine outlives this shell but is stopped by `stop`, by pid
    setsid dockerd --host unix:///var/run/docker.sock >"$state/dockerd.log" 2>&1 </dev/null &
    echo $! >"$state/dockerd.pid"
    for _ in $(seq 1 60); do
        if engine_answers; then
            echo "started $(cat "$state/dockerd.pid")"
            return 0
        fi
        kill -0 "$(cat "$state/dockerd.pid")" 2>/dev/null || break
        sleep 1
    done
    echo "dockerd did not answer within 60 s; its log: $state/dockerd.log" >&2
    tail -n 20 "$state/dockerd.log" >&2 || true
    stop
    return 1
}

clean_iptables() {
    command -v iptables >/dev/null 2>&1 || return 0
    local table rule chain
    for table in filter nat; do
        # rules dockerd put in the built-in chains (jumps to its chains, docker0 masquerade)
        iptables -t "$table" -S 2>/dev/null | grep -E '^-A (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) ' \
            | grep -E 'DOCKER|docker0|br-[0-9a-f]{12}|172\.(1[7-9]|2[0-9]|3[01])\.' | while read -r rule; do
                # shellcheck disable=SC2086  # the rule is a list of words, as iptables -S prints it
                iptables -t "$table" -D ${rule#-A } 2>/dev/null || true
            done
        for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^DOCKER/ {print $2}'); do
            iptables -t "$table" -F "$chain" 2>/dev/null || true
        done
        for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^DOCKER/ {print $2}'); do
            iptables -t "$table" -X "$chain" 2>/dev/null || true
        done
    done
}

stop() {
    [ -f "$state/dockerd.pid" ] || return 0
    local pid
    pid=$(cat "$state/dockerd.pid")
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then  # a reused pid is left alone
        kill -TERM "$pid"
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" || true; fi
    fi
    clean_iptables
    if [ -s "$state/forward_policy.before" ]; then
        iptables -P FORWARD "$(cat "$state/forward_policy.before")" 2>/dev/null || true
    fi
    local link
    for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^(docker0|br-[0-9a-f]{12}|veth)'); do
        grep -qx "$link" "$state/links.before" 2>/dev/null || ip link delete "$link" 2>/dev/null || true
    done
    if [ -f "$state/ip_forward.before" ]; then
        cat "$state/ip_forward.before" >/proc/sys/net/ipv4/ip_forward || true
    fi
    rm -f "$state/dockerd.pid" "$state"/*.before
    echo "stopped dockerd $pid"
}

case "$action" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: dockerd.sh start|stop STATE_DIR" >&2; exit 2 ;;
esac
