#!/usr/bin/env bash
# A second Docker engine on this machine that shares no file system view and no network with
# healer's host: its own network namespace (reached over TCP through a veth pair the script
# creates) and its own mount namespace (empty /tmp, /work, /home, /root: no host path healer
# could pass resolves there). Its containers reach the internet through this machine (NAT), as
# a remote engine's would for the install step. Tests and benchmarks use it as a remote engine.
#
#   sudo bash scripts/remote-engine.sh start   # prints the engine's URL (tcp://10.231.0.2:2375)
#   sudo bash scripts/remote-engine.sh stop
#   sudo bash scripts/remote-engine.sh kill    # as if the machine went away: SIGKILL, then stop
set -euo pipefail
NS=healer-remote
HOST_IP=10.231.0.1
ENGINE_IP=10.231.0.2
PORT=2375
ROOT=/var/lib/healer-remote-engine
RUN=/run/healer-remote-engine
LOG=/tmp/healer-remote-engine.log
MARK=(-m comment --comment healer-remote-engine)
RULES=("nat POSTROUTING -s $ENGINE_IP/32 ! -o healer-rh -j MASQUERADE"
       "filter FORWARD -i healer-rh -j ACCEPT"
       "filter FORWARD -o healer-rh -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")

rules() {  # rules add|del
  command -v iptables >/dev/null || return 0
  for rule in "${RULES[@]}"; do
    read -r table chain spec <<<"$rule"
    if [ "$1" = add ]; then
      iptables -w 5 -t "$table" -C "$chain" $spec "${MARK[@]}" 2>/dev/null \
        || iptables -w 5 -t "$table" -I "$chain" $spec "${MARK[@]}"
    else
      while iptables -w 5 -t "$table" -D "$chain" $spec "${MARK[@]}" 2>/dev/null; do :; done
    fi
  done
}

start() {
  if ! ip netns list | grep -qw "$NS"; then
    ip netns add "$NS"
    ip link add healer-rh type veth peer name healer-re
    ip link set healer-re netns "$NS"
    ip addr add "$HOST_IP/30" dev healer-rh
    ip link set healer-rh up
    ip netns exec "$NS" ip addr add "$ENGINE_IP/30" dev healer-re
    ip netns exec "$NS" ip link set healer-re up
    ip netns exec "$NS" ip link set lo up
    ip netns exec "$NS" ip route add default via "$HOST_IP"
  fi
  rules add
  if ! DOCKER_HOST="tcp://$ENGINE_IP:$PORT" docker info >/dev/null 2>&1; then
    mkdir -p "$ROOT" "$RUN"
    # nsenter, not `ip netns exec`: that one mounts a new /sys, without the cgroup hierarchies
    nsenter --net="/var/run/netns/$NS" unshare --mount --propagation private sh -c "
      for d in /tmp /work /home /root; do [ -d \$d ] && mount -t tmpfs none \$d; done
      exec dockerd --data-root $ROOT --exec-root $RUN --pidfile $RUN/dockerd.pid \
        -H tcp://$ENGINE_IP:$PORT" >"$LOG" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
      DOCKER_HOST="tcp://$ENGINE_IP:$PORT" docker info >/dev/null 2>&1 && break
      sleep 0.5
    done
  fi
  DOCKER_HOST="tcp://$ENGINE_IP:$PORT" docker info >/dev/null 2>&1 \
    || { echo "the second engine did not start (see $LOG)" >&2; exit 1; }
  echo "tcp://$ENGINE_IP:$PORT"
}

stop() {
  local signal="${1:-TERM}"
  for pidfile in "$RUN/dockerd.pid" "$RUN/containerd/containerd.pid"; do
    [ -f "$pidfile" ] || continue
    kill "-$signal" "$(cat "$pidfile")" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.25; done
    signal=TERM
  done
  # what a killed engine leaves: its containerd and the shims of its containers
  pkill -KILL -f -- "$RUN/containerd/containerd" 2>/dev/null || true
  pkill -KILL -f -- "-address $RUN/containerd" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  ip link del healer-rh 2>/dev/null || true
  rules del
}

case "${1:-}" in
  start) start ;;
  stop) stop TERM ;;
  kill) stop KILL ;;
  *) echo "usage: $0 start|stop|kill" >&2; exit 2 ;;
esac
