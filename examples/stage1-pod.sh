#!/usr/bin/env bash
# Plays a pod runtime for podinit's stage1 `run`, the way rkt's stage0
# does: lays out a pod directory of two busybox apps, takes the pod's lock,
# and execs `run` in the directory. Run as root from the repository root,
# after `cargo build --release -p podinit`:
#
#     examples/stage1-pod.sh [POD_DIR]
#
# It leaves the pod directory (default: a new temporary one) for a look at
# `pid` and the statuses, and exits with the pod's status: 4, the status of
# the app that fails, which stops the other.
set -euo pipefail

podinit=$PWD/target/x86_64-unknown-linux-musl/release/podinit
busybox=/bin/busybox
[ -x "$podinit" ] || { echo "stage1-pod: build podinit first" >&2; exit 1; }
[ -x "$busybox" ] || { echo "stage1-pod: needs busybox-static" >&2; exit 1; }
pod=${1:-$(mktemp -d)}
uuid=6f9c5c52-0000-4000-8000-000000000001

# The stage1 image, unpacked where the runtime puts it: the binary and its
# entrypoint links (musl-target/build-aci packs the same), and the empty
# status directory.
mkdir -p "$pod/stage1/rootfs/rkt/status"
cp "$podinit" "$pod/stage1/rootfs/podinit"
for entrypoint in run enter stop gc; do
    ln -sf podinit "$pod/stage1/rootfs/$entrypoint"
done

# Each app's root file system: busybox and a user of its own.
for app in server job; do
    root=$pod/stage1/rootfs/opt/stage2/$app/rootfs
    mkdir -p "$root/bin" "$root/etc" "$root/tmp"
    cp "$busybox" "$root/bin/busybox"
    for applet in sh echo sleep id hostname cat; do
        ln -sf busybox "$root/bin/$applet"
    done
    echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
    echo "app:x:1000:1000:app:/:/bin/sh" >> "$root/etc/passwd"
    printf 'root:x:0:\napp:x:1000:\n' > "$root/etc/group"
done

# The pod manifest: a server that runs until stopped, and a job that
# reports what it sees, then fails with 4, which stops the pod.
cat > "$pod/pod" <<'EOF'
{"acKind":"PodManifest","acVersion":"1.30.0","apps":[
 {"name":"server","image":{"name":"example.com/server"},
  "app":{"exec":["/bin/sh","-c","echo server: up as $(id -un) on $(hostname); exec sleep 60"],
         "user":"app","group":"app"}},
 {"name":"job","image":{"name":"example.com/job"},
  "app":{"exec":["/bin/sh","-c","sleep 0.5; echo job: sees $(cat /proc/1/comm) as PID 1; exit 4"],
         "user":"0","group":"0","environment":[{"name":"MODE","value":"demo"}]}}],
 "volumes":null,"isolators":null,"annotations":null,"ports":null}
EOF

# The lock: the pod directory opened on a descriptor that `run` inherits
# (close-on-exec cleared), holding an exclusive flock; then `run`, exec'd
# in the pod directory with the runtime's flags and the UUID last.
cd "$pod"
exec {lock}<"$pod"
flock --exclusive --nonblock "$lock"
export RKT_LOCK_FD=$lock
exec "$pod/stage1/rootfs/run" --net=none --hostname=demo "$uuid"
