#!/usr/bin/env bash
# A one-node S3-compatible object store for the ImagesKitS3 tests: OpenStack Swift from Debian's
# packages with its s3api and tempauth middleware, memcached (tempauth keeps its tokens there)
# and rsyslogd (the servers log through syslog). Every process listens on 127.0.0.1 only, and
# everything the store writes (configuration, rings, objects, logs, PID files) stays in one
# state folder.
#
#   scripts/objectstore.sh start STATE_DIR           start, or re-check, and print the S3 settings
#   scripts/objectstore.sh stop STATE_DIR [--purge]  stop what start started; --purge removes STATE_DIR
#   scripts/objectstore.sh bucket STATE_DIR NAME     create a bucket (one that is already ours is fine)
#   scripts/objectstore.sh smoke STATE_DIR           a short S3 check with curl
#   scripts/objectstore.sh status STATE_DIR          which of the processes run
#
# start writes STATE_DIR/env, KEY=VALUE lines a shell can source, and prints them:
# S3_ENDPOINT, S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY. Path-style addressing.
# Run again while the store is up, it only checks its health. Run after a stop, it starts the
# servers again over the same objects.
#
# Settings of start, from the environment. A state folder keeps what it was started with in
# STATE_DIR/settings, and later starts use that again unless the environment says otherwise:
#   OBJECTSTORE_BASE_PORT      first of six ports in a row (default 18080): the S3 endpoint, the
#                              account, container and object servers, memcached, the log (UDP)
#   OBJECTSTORE_PROXY_PORT, OBJECTSTORE_ACCOUNT_PORT, OBJECTSTORE_CONTAINER_PORT,
#   OBJECTSTORE_OBJECT_PORT, OBJECTSTORE_MEMCACHED_PORT, OBJECTSTORE_LOG_PORT
#                              one port, instead of the base port plus its place in that row
#   OBJECTSTORE_REGION         the S3 region (default us-east-1)
#   OBJECTSTORE_DATA           the folder of the objects (default STATE_DIR/data), on a file system
#                              with user extended attributes (ext4, xfs; tmpfs from Linux 6.6)
# Settings that hold for one start only:
#   OBJECTSTORE_OWNER_PID      the store belongs to this process: once it has exited, the store is
#                              stopped and STATE_DIR removed (for test runs that crash)
#   OBJECTSTORE_INSTALL=0      never install missing packages (by default, root installs them)
#   OBJECTSTORE_START_TIMEOUT  seconds to wait for the store to become healthy (default 60)
#
# Exit status: 0 done; 1 failed; 2 wrong usage; 3 packages missing; 75 a port is taken by
# another program (try again with other ports).
#
# Swift keeps each object's metadata in extended attributes of its file. On ext4 a file has
# room for only about 3 KB of them, so an object with several KB of x-amz-meta-* headers fails
# there (503): keep metadata small.
set -euo pipefail

self=$(readlink -f "${BASH_SOURCE[0]}")
scripts=$(dirname "$self")

# Whatever signals the caller blocked or ignored, the servers would inherit, and a server that
# blocks SIGTERM does not stop. Foundation's Process, run from a thread of Swift's concurrency
# pool, starts programs with nearly every signal blocked. Start over without any blocked, and
# with the usual ways to stop a program back to their defaults (and those that Python ignores,
# SIGPIPE and SIGXFSZ, too).
if [ -z "${OBJECTSTORE_SIGNALS_RESET:-}" ] && [ -x /usr/bin/python3 ] &&
    ! grep -Eq '^SigBlk:[[:space:]]*0+$' "/proc/$$/status" 2> /dev/null; then
    export OBJECTSTORE_SIGNALS_RESET=1
    exec /usr/bin/python3 -c '
import os, signal, sys
for number in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ):
    signal.signal(number, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_SETMASK, set())
os.execv(sys.argv[1], sys.argv[1:])' /bin/bash "$self" "$@"
fi

# The programs the store runs, in the order start starts them; stop goes the other way.
services=(logger memcached account container object updater proxy)
# SHA-256 of an empty payload, for signed requests without a body.
empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
# Swift's servers read this file whatever their configuration says; the swift package ships it.
swift_conf=/etc/swift/swift.conf

note() { echo "objectstore: $*" >&2; }
die() {
    note "ERROR: $*"
    exit 1
}
usage() {
    sed -n 's/^#   \(scripts\/objectstore.sh\)/\1/p' "$self" >&2
    exit 2
}

# ---------------------------------------------------------------------------- state folder

# set_state DIR [create]: sets state (absolute, symlinks resolved) and the folders inside it.
set_state() {
    [ -n "$1" ] || usage
    if [ "${2:-}" = create ]; then mkdir -p "$1"; fi
    if [ -d "$1" ]; then
        state=$(cd "$1" && pwd -P)
    else
        state=$1
    fi
    [ "$state" != / ] || die "the state folder cannot be /"
    etc=$state/etc
    run=$state/run
    logs=$state/log
}

# A state folder is ours when it has the settings file that start writes first.
is_ours() { [ -f "$state/settings" ]; }

# Reads STATE_DIR/settings, then the environment over it, then defaults for what is still unset.
load_settings() {
    local proxy_port="" account_port="" container_port="" object_port="" memcached_port=""
    local log_port="" region="" data="" account="" user="" secret=""
    # shellcheck disable=SC1091 # written by save_settings below
    if is_ours; then . "$state/settings"; fi
    local base=${OBJECTSTORE_BASE_PORT:-}
    if [ -z "$base" ] && [ -z "$proxy_port" ]; then base=18080; fi
    if [ -n "$base" ]; then
        if ! is_port "$base" || ! is_port $((base + 5)); then
            die "OBJECTSTORE_BASE_PORT=$base is not a usable port"
        fi
        proxy_port=$base account_port=$((base + 1)) container_port=$((base + 2))
        object_port=$((base + 3)) memcached_port=$((base + 4)) log_port=$((base + 5))
    fi
    port_proxy=${OBJECTSTORE_PROXY_PORT:-$proxy_port}
    port_account=${OBJECTSTORE_ACCOUNT_PORT:-$account_port}
    port_container=${OBJECTSTORE_CONTAINER_PORT:-$container_port}
    port_object=${OBJECTSTORE_OBJECT_PORT:-$object_port}
    port_memcached=${OBJECTSTORE_MEMCACHED_PORT:-$memcached_port}
    port_log=${OBJECTSTORE_LOG_PORT:-$log_port}
    local port
    for port in "$port_proxy" "$port_account" "$port_container" "$port_object" "$port_memcached" "$port_log"; do
        is_port "$port" || die "'$port' is not a usable port"
    done
    s3_region=${OBJECTSTORE_REGION:-${region:-us-east-1}}
    data_folder=$(realpath -m "${OBJECTSTORE_DATA:-${data:-$state/data}}")
    # tempauth's user is ACCOUNT:USER, which is also the S3 access key; the secret is drawn once
    # per state folder.
    swift_account=${account:-imageskit}
    swift_user=${user:-tester}
    s3_secret=${secret:-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')}
    [[ $s3_region =~ ^[a-z0-9-]+$ ]] || die "OBJECTSTORE_REGION=$s3_region is not a region name"
    # What the health check's signed request uses (load_env sets the same from STATE_DIR/env).
    endpoint=http://127.0.0.1:$port_proxy signing_region=$s3_region
    access_key=$swift_account:$swift_user secret_key=$s3_secret
}

is_port() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge 1024 ] && [ "$1" -le 65535 ]; }

save_settings() {
    {
        echo "# Settings of the object store in this folder, written by scripts/objectstore.sh start."
        printf '%s=%q\n' proxy_port "$port_proxy" account_port "$port_account" \
            container_port "$port_container" object_port "$port_object" \
            memcached_port "$port_memcached" log_port "$port_log" region "$s3_region" \
            data "$data_folder" account "$swift_account" user "$swift_user" secret "$s3_secret"
    } > "$state/settings.new"
    chmod 600 "$state/settings.new"
    mv -f "$state/settings.new" "$state/settings"
}

# Reads STATE_DIR/env, written by start: the endpoint and the credentials.
load_env() {
    [ -s "$state/env" ] || die "$state/env is missing: run 'scripts/objectstore.sh start $state' first"
    local S3_ENDPOINT="" S3_REGION="" AWS_ACCESS_KEY_ID="" AWS_SECRET_ACCESS_KEY=""
    # shellcheck disable=SC1091 # written by write_env below
    . "$state/env"
    endpoint=$S3_ENDPOINT signing_region=$S3_REGION access_key=$AWS_ACCESS_KEY_ID secret_key=$AWS_SECRET_ACCESS_KEY
    # Nothing but a server of this machine's loopback is ever sent a request.
    [[ $endpoint =~ ^http://(127\.0\.0\.1|localhost):[0-9]+$ ]] ||
        die "refusing endpoint '$endpoint': not on 127.0.0.1 or localhost"
}

write_env() {
    {
        echo "S3_ENDPOINT=http://127.0.0.1:$port_proxy"
        echo "S3_REGION=$s3_region"
        echo "AWS_ACCESS_KEY_ID=$swift_account:$swift_user"
        echo "AWS_SECRET_ACCESS_KEY=$s3_secret"
    } > "$state/env.new"
    chmod 600 "$state/env.new"
    mv -f "$state/env.new" "$state/env"
}

# Holds the state folder's lock until the script exits, so that two starts or a start and a
# stop of the same folder never interleave. The processes started close the descriptor.
lock_state() {
    exec 9> "$state/.lock"
    flock -w 300 9 || die "another objectstore.sh holds $state/.lock"
}

# ------------------------------------------------------------------------------- processes

# The argument that only this state folder's copy of program NAME has on its command line.
marker() {
    case "$1" in
        logger) echo "$etc/rsyslog.conf" ;;
        memcached) echo "$run/memcached.pidfile" ;;
        watchdog) echo "$state" ;;
        updater) echo "$etc/object-server.conf" ;;
        *) echo "$etc/$1-server.conf" ;;
    esac
}

# pid_of NAME: the PID that start recorded for NAME (empty when there is none).
pid_of() { cat "$run/$1.pid" 2> /dev/null || true; }

# ours NAME PID: PID is alive and is NAME of this state folder (a recycled PID is not).
ours() {
    local arg want
    want=$(marker "$1")
    [[ $2 =~ ^[0-9]+$ ]] && [ -r "/proc/$2/cmdline" ] || return 1
    while IFS= read -r -d '' arg; do
        [ "$arg" != "$want" ] || return 0
    done < "/proc/$2/cmdline" 2> /dev/null
    return 1
}

# exited PID: no such process, or only a zombie waiting to be reaped (its sockets are closed).
exited() {
    local stat
    stat=$(cat "/proc/$1/stat" 2> /dev/null) || return 0
    stat=${stat##*) }
    [ "${stat%% *}" = Z ]
}

running() { ours "$1" "$(pid_of "$1")"; }

# launch NAME COMMAND...: runs COMMAND in the background in a session of its own (signals of a
# terminal or test runner do not reach it), output in log/NAME.out, and records its PID.
launch() {
    local name=$1
    shift
    (
        # Close every descriptor but 0, 1 and 2, such as the state lock and whatever the caller
        # left open: a server holding the write end of the caller's pipe would keep it waiting.
        for fd in "/proc/$BASHPID/fd/"*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2> /dev/null || true; fi
        done
        exec setsid "$@"
    ) < /dev/null > "$logs/$name.out" 2>&1 &
    echo $! > "$run/$name.pid"
}

# stop_service NAME: SIGTERM, then SIGKILL after 10 s, to the PID recorded for NAME, but only
# while /proc/PID/cmdline shows it is still that program of this state folder.
stop_service() {
    local name=$1 pid i
    pid=$(pid_of "$name")
    [ -n "$pid" ] || return 0
    if ours "$name" "$pid"; then
        kill -TERM "$pid" 2> /dev/null || true
        for ((i = 0; i < 100; i++)); do
            exited "$pid" && break
            sleep 0.1
        done
        if ! exited "$pid" && ours "$name" "$pid"; then
            note "$name (pid $pid) still runs 10 s after SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2> /dev/null || true
            for ((i = 0; i < 50; i++)); do
                exited "$pid" && break
                sleep 0.1
            done
        fi
        exited "$pid" || {
            note "could not stop $name (pid $pid)"
            return 1
        }
        note "stopped $name (pid $pid)"
    fi
    rm -f "$run/$name.pid"
}

stop_all() {
    local status=0 i
    # The watchdog first, so that it does not start a stop of its own meanwhile; then the
    # proxy, so that no new request comes in.
    stop_service watchdog || status=1
    for ((i = ${#services[@]} - 1; i >= 0; i--)); do
        stop_service "${services[i]}" || status=1
    done
    return $status
}

# ---------------------------------------------------------------------------------- checks

packages_present() {
    local program
    for program in /usr/bin/swift-proxy-server /usr/bin/swift-account-server \
        /usr/bin/swift-container-server /usr/bin/swift-object-server /usr/bin/memcached \
        /usr/sbin/rsyslogd /usr/bin/curl /usr/bin/python3 /usr/bin/flock /usr/bin/setsid; do
        [ -x "$program" ] || return 1
    done
    # The middleware, from python3-swift (a look at the files: importing them takes a second).
    local middleware=/usr/lib/python3/dist-packages/swift/common/middleware
    [ -f "$middleware/s3api/s3api.py" ] && [ -f "$middleware/tempauth.py" ]
}

ensure_packages() {
    packages_present && return 0
    local hint="run scripts/install-packages.sh as root (it installs swift swift-proxy swift-account"
    hint="$hint swift-container swift-object python3-swift memcached curl with --no-install-recommends)"
    if [ "$(id -u)" -ne 0 ] || [ "${OBJECTSTORE_INSTALL:-1}" = 0 ]; then
        note "the object store's Debian packages are missing: $hint"
        exit 3
    fi
    note "installing the object store's Debian packages with scripts/install-packages.sh"
    "$scripts/install-packages.sh" >&2 || die "scripts/install-packages.sh failed"
    packages_present || die "packages still missing after scripts/install-packages.sh"
}

# Swift stores metadata as user.swift.metadata* extended attributes (254 bytes each); a file
# system without user xattrs fails every PUT, so find out before starting.
check_xattrs() {
    local hint="set OBJECTSTORE_DATA to a folder on ext4 or xfs"
    /usr/bin/python3 - "$1" << 'EOF' || die "$1 has no room for user extended attributes; $hint"
import os, sys, tempfile
handle, path = tempfile.mkstemp(dir=sys.argv[1], prefix=".xattr-check.")
try:
    for index in range(4):
        os.setxattr(path, "user.imageskit.check%d" % index, b"m" * 254)
except OSError as error:
    sys.exit("objectstore: %s" % error)
finally:
    os.close(handle)
    os.unlink(path)
EOF
}

# Exits with status 75 unless every port is free on 127.0.0.1 (the servers bind TCP ports with
# SO_REUSEADDR, so a closing connection of an earlier run does not count as taken). Waits up to
# 1 s for ports that a process stopped just now may still hold.
check_ports() {
    local status=0
    /usr/bin/python3 - "$port_log" "$port_proxy" "$port_account" "$port_container" "$port_object" \
        "$port_memcached" << 'EOF' || status=$?
import socket, sys, time
ports = [int(p) for p in sys.argv[1:]]
if len(set(ports)) != len(ports):
    sys.exit("objectstore: the six ports must differ: %s" % ports)
def taken(port, kind):
    with socket.socket(socket.AF_INET, kind) as probe:
        if kind == socket.SOCK_STREAM:  # for UDP, SO_REUSEADDR would share a port in use
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return False
        except OSError:
            return True
deadline = time.monotonic() + 1
while True:
    busy = [p for i, p in enumerate(ports) if taken(p, socket.SOCK_DGRAM if i == 0 else socket.SOCK_STREAM)]
    if not busy:
        break
    if time.monotonic() > deadline:
        print("objectstore: 127.0.0.1 port(s) %s already in use" % busy, file=sys.stderr)
        sys.exit(75)
    time.sleep(0.1)
EOF
    [ "$status" -ne 75 ] || exit 75
    [ "$status" -eq 0 ] || die "the ports cannot be used"
}

# --------------------------------------------------------------------------------- S3 calls

# Percent-encodes $1 as SigV4 wants it in a URL: all but letters, digits and -_.~
urlencode() {
    local text=$1 out="" char i
    for ((i = 0; i < ${#text}; i++)); do
        char=${text:i:1}
        case "$char" in
            [A-Za-z0-9._~-]) out+=$char ;;
            *) out+=$(printf '%%%02X' "'$char") ;;
        esac
    done
    printf '%s' "$out"
}

# s3 METHOD PATH PAYLOAD_SHA256 BODY_OUT [curl options...]: a SigV4-signed request; prints the
# HTTP status (000 when there was no answer). Response headers go to $s3_headers when set.
# curl 7.88 signs with --aws-sigv4 but neither sends x-amz-content-sha256, which s3api
# requires, nor sorts the query: PATH must carry its query in canonical form (keys sorted,
# every key with '='). The access key holds a ':', so it cannot go through --user and goes,
# encoded, into the URL instead; the URL reaches curl on standard input, out of sight of ps.
s3() {
    local method=$1 path=$2 payload=$3 out=$4
    shift 4
    local how=(-X "$method")
    [ "$method" != HEAD ] || how=(--head)
    local url
    url="http://$(urlencode "$access_key"):$(urlencode "$secret_key")@${endpoint#http://}$path"
    curl -sS --noproxy '*' --max-time "${s3_timeout:-30}" "${how[@]}" \
        --aws-sigv4 "aws:amz:$signing_region:s3" -H "x-amz-content-sha256: $payload" \
        -D "${s3_headers:-/dev/null}" -o "$out" -w '%{http_code}' "$@" --config - \
        <<< "url = \"$url\"" 2> /dev/null || true
}

healthy() {
    local port
    for port in "$port_proxy" "$port_account" "$port_container" "$port_object"; do
        [ "$(curl -sS --noproxy '*' --max-time 2 "http://127.0.0.1:$port/healthcheck" 2> /dev/null)" = OK ] ||
            return 1
    done
    # And an authenticated ListBuckets, which takes the proxy, tempauth, memcached and the
    # account server.
    [ "$(s3_timeout=5 s3 GET / "$empty_sha256" /dev/null)" = 200 ]
}

# elapsed SINCE [ms]: whole seconds (or milliseconds) from EPOCHREALTIME value SINCE until now.
elapsed() {
    local now=${EPOCHREALTIME//[!0-9]/} then=${1//[!0-9]/}
    if [ "${2:-}" = ms ]; then echo $(((now - then) / 1000)); else echo $(((now - then) / 1000000)); fi
}

# ---------------------------------------------------------------------------- configuration

write_configs() {
    # rsyslogd takes the servers' syslog datagrams on a UDP port of 127.0.0.1 (set in the
    # servers' log_udp_host and log_udp_port, which the proxy's access log follows too).
    cat > "$etc/rsyslog.conf" << EOF
global(workDirectory="$run" net.enableDNS="off")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="$port_log")
template(name="line" type="string" string="%timegenerated:::date-rfc3339% %syslogtag%%msg:::drop-last-lf%\\n")
*.* action(type="omfile" file="$logs/swift.log" template="line")
EOF

    local name port app_settings workers
    for name in account container object proxy; do
        workers=0
        case "$name" in proxy | object) workers=${OBJECTSTORE_WORKERS:-0} ;; esac
        case "$name" in
            account) port=$port_account ;;
            container) port=$port_container ;;
            object) port=$port_object ;;
            proxy) port=$port_proxy ;;
        esac
        {
            cat << EOF
# Written by scripts/objectstore.sh start; rewritten at every start.
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
# A single process serves (no forked workers), so the recorded PID is the whole server.
workers = $workers
# Give up soon on a port that is taken (the default retries for 30 s).
bind_timeout = 3
user = $(id -un)
swift_dir = $etc
devices = $data_folder
mount_check = false
log_name = $name-server
log_level = INFO
log_udp_host = 127.0.0.1
log_udp_port = $port_log
EOF
            # A busy machine answers slowly: the object server waits longer for the container
            # before it puts a listing update off for the updater.
            app_settings=""
            [ "$name" != object ] || app_settings="container_update_timeout = 10"
            if [ "$name" = proxy ]; then
                proxy_sections
            else
                cat << EOF

[pipeline:main]
pipeline = healthcheck $name-server

[app:$name-server]
use = egg:swift#$name
$app_settings

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
            fi
            if [ "$name" = object ]; then
                cat << EOF

[object-updater]
interval = 1
concurrency = 1
EOF
            fi
        } > "$etc/$name-server.conf"
    done
}

proxy_sections() {
    cat << EOF

[pipeline:main]
# s3api turns S3 requests into Swift ones before tempauth checks them; slo holds the parts of
# multipart uploads.
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo versioned_writes proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
conn_timeout = 2
node_timeout = 60
client_timeout = 120
# There is one storage device: were it shunned for a minute after one error (the default), a
# single failure would turn into a minute of 503 answers.
error_suppression_interval = 0

[filter:s3api]
use = egg:swift#s3api
location = $s3_region
s3_acl = false
dns_compliant_bucket_names = true
# Virtual-hosted requests name the bucket in the host: BUCKET.localhost:PORT, which curl takes
# for the loopback address without asking any resolver.
storage_domain = localhost
# AWS's limit of parts per upload (Swift's default is 1000).
max_upload_part_num = 10000

[filter:tempauth]
use = egg:swift#tempauth
user_${swift_account}_${swift_user} = $s3_secret .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$port_memcached

[filter:slo]
use = egg:swift#slo
max_manifest_segments = 10000

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes

[filter:copy]
use = egg:swift#copy

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:catch_errors]
use = egg:swift#catch_errors
EOF
}

# One ring per kind of server, each with the single device d1 (data_folder/d1) and one replica.
# They are kept across restarts and made again only when the ports change; with one device,
# every partition stays where it was, and so do the objects.
build_rings() {
    local ports="$port_account $port_container $port_object"
    if [ -s "$etc/account.ring.gz" ] && [ -s "$etc/container.ring.gz" ] && [ -s "$etc/object.ring.gz" ] &&
        [ "$(cat "$etc/ring-ports" 2> /dev/null)" = "$ports" ]; then
        return 0
    fi
    # shellcheck disable=SC2086 # three port numbers
    /usr/bin/python3 - "$etc" $ports << 'EOF' || die "could not build the rings"
import os, sys
from swift.common.ring import RingBuilder
folder = sys.argv[1]
for kind, port in zip(("account", "container", "object"), sys.argv[2:]):
    builder = RingBuilder(6, 1, 0)  # 64 partitions, 1 replica, no wait between rebalances
    builder.add_dev({"region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port), "device": "d1",
                     "weight": 1, "replication_ip": "127.0.0.1", "replication_port": int(port)})
    builder.rebalance()
    builder.get_ring().save(os.path.join(folder, kind + ".ring.gz"))
EOF
    echo "$ports" > "$etc/ring-ports"
}

# ----------------------------------------------------------------------------- subcommands

cmd_start() {
    set_state "$1" create
    if ! is_ours && [ -n "$(ls -A "$state")" ]; then
        die "$state is neither empty nor an object store's state folder"
    fi
    lock_state
    load_settings
    save_settings
    ensure_packages
    grep -q '^\[swift-hash\]' "$swift_conf" 2> /dev/null ||
        die "$swift_conf is missing; reinstall the swift package (apt-get install --reinstall swift)"
    mkdir -p "$etc" "$run" "$logs" "$data_folder/d1"

    local name all_up=1
    for name in "${services[@]}"; do running "$name" || all_up=0; done
    if [ $all_up = 1 ] && healthy; then
        note "already running in $state"
    else
        # Whatever is left of an earlier run (a server that died, say) goes first.
        stop_all || die "could not stop what is left of an earlier run in $state"
        check_xattrs "$data_folder/d1"
        check_ports
        write_configs
        build_rings
        local began=$EPOCHREALTIME timeout=${OBJECTSTORE_START_TIMEOUT:-60}
        launch logger /usr/sbin/rsyslogd -n -f "$etc/rsyslog.conf" -i "$run/rsyslogd.pidfile"
        local as_root=()
        [ "$(id -u)" -ne 0 ] || as_root=(-u root) # memcached refuses root unless told so
        launch memcached /usr/bin/memcached -l 127.0.0.1 -p "$port_memcached" -U 0 -m 64 -c 512 \
            "${as_root[@]}" -P "$run/memcached.pidfile"
        for name in account container object; do
            launch "$name" "/usr/bin/swift-$name-server" "$etc/$name-server.conf"
        done
        # Sends the container the listing updates the object server had to put off, as a
        # cluster's updater does, so a busy machine never leaves an object out of listings.
        launch updater /usr/bin/swift-object-updater "$etc/object-server.conf"
        launch proxy /usr/bin/swift-proxy-server "$etc/proxy-server.conf"
        until healthy; do
            for name in "${services[@]}"; do
                if ! running "$name"; then
                    tail -n 20 "$logs/$name.out" "$logs/swift.log" >&2 2> /dev/null || true
                    stop_all || true
                    # Another program took one of the ports after check_ports looked.
                    if grep -Eqs 'Address already in use|Could not bind' "$logs/$name.out"; then
                        note "$name found its port taken"
                        exit 75
                    fi
                    die "$name exited while starting (logs in $logs)"
                fi
            done
            if [ "$(elapsed "$began")" -ge "$timeout" ]; then
                stop_all || true
                die "not healthy after $timeout s (logs in $logs)"
            fi
            sleep 0.2
        done
        note "healthy $(elapsed "$began" ms) ms after the start of the servers"
    fi

    if [ -n "${OBJECTSTORE_OWNER_PID:-}" ] && ! running watchdog; then
        [[ $OBJECTSTORE_OWNER_PID =~ ^[0-9]+$ ]] || die "OBJECTSTORE_OWNER_PID must be a PID"
        launch watchdog /bin/bash "$self" watch "$state" "$OBJECTSTORE_OWNER_PID"
    fi
    write_env
    cat "$state/env"
}

cmd_stop() {
    set_state "$1"
    local purge=${2:-}
    [ -z "$purge" ] || [ "$purge" = --purge ] || usage
    [ -d "$state" ] || {
        note "$state does not exist; nothing to stop"
        return 0
    }
    is_ours || die "$state is not an object store's state folder; leaving it alone"
    lock_state
    stop_all || die "some processes of $state did not stop"
    if [ "$purge" = --purge ]; then
        rm -rf "$state"
        note "removed $state"
    fi
}

cmd_status() {
    set_state "$1"
    is_ours || die "$state is not an object store's state folder"
    local name status=0
    for name in "${services[@]}" watchdog; do
        if running "$name"; then
            echo "$name running (pid $(pid_of "$name"))"
        elif [ "$name" != watchdog ]; then
            echo "$name stopped"
            status=1
        fi
    done
    return $status
}

cmd_bucket() {
    set_state "$1"
    local name=$2
    [[ $name =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "'$name' is not a valid bucket name"
    load_env
    local answer code
    answer=$(mktemp)
    code=$(s3 PUT "/$name" "$empty_sha256" "$answer")
    if [ "$code" = 200 ] || { [ "$code" = 409 ] && grep -q BucketAlreadyOwnedByYou "$answer"; }; then
        rm -f "$answer"
        echo "bucket $name"
        return 0
    fi
    note "creating bucket $name: HTTP $code $(cat "$answer")"
    rm -f "$answer"
    return 1
}

# Internal: run by start as a watchdog of OBJECTSTORE_OWNER_PID.
cmd_watch() {
    set_state "$1"
    local owner=$2 began
    began=$(start_time "$owner")
    [ -n "$began" ] || began=gone
    while [ "$(start_time "$owner")" = "$began" ]; do sleep 1; done
    # Out of the way of the stop, which would otherwise wait for this very process.
    rm -f "$run/watchdog.pid"
    exec /bin/bash "$self" stop "$state" --purge
}

# start_time PID: when the process started (field 22 of /proc/PID/stat), empty when it is gone.
start_time() {
    local stat fields
    stat=$(cat "/proc/$1/stat" 2> /dev/null) || return 0
    read -ra fields <<< "${stat##*) }"
    echo "${fields[19]}"
}

# smoke: a short round of S3 calls with curl against a started store; prints one line per
# check, then "N passed, N failed", and fails if any check did.
cmd_smoke() {
    set_state "$1"
    load_env
    smoke_work=$(mktemp -d)
    trap 'rm -rf "$smoke_work"' EXIT
    local w=$smoke_work bucket code
    bucket=smoke-$(date +%s)-$$
    passed=0 failed=0
    s3_headers=$w/headers
    echo "endpoint $endpoint, bucket $bucket"

    # Credentials: right, wrong, unknown, none.
    expect "ListBuckets signed" "$(s3 GET / "$empty_sha256" "$w/out")" 200
    code=$(secret_key=not-the-secret s3 GET / "$empty_sha256" "$w/out")
    expect "ListBuckets with a wrong secret is refused" "$code $(xml_value Code < "$w/out")" \
        "403 SignatureDoesNotMatch"
    # AWS would say InvalidAccessKeyId; tempauth does not tell unknown keys from wrong secrets.
    code=$(access_key=nobody:nobody s3 GET / "$empty_sha256" "$w/out")
    expect "ListBuckets with an unknown access key is refused" "$code $(xml_value Code < "$w/out")" \
        "403 SignatureDoesNotMatch"
    # s3api takes a request without credentials for a plain Swift one (AWS would answer 403
    # AccessDenied): it gets an HTML error, and no data.
    code=$(curl -sS --noproxy '*' --max-time 10 -o "$w/out" -w '%{http_code}' "$endpoint/" || true)
    expect "a request without credentials gets no data" "${code:0:1}" 4

    expect "CreateBucket" "$(s3 PUT "/$bucket" "$empty_sha256" "$w/out")" 200

    # One object in a single PUT; the server checks the signed payload hash.
    head -c 300000 /dev/urandom > "$w/object"
    local sha md5
    sha=$(sha256sum < "$w/object" | cut -d' ' -f1)
    md5=$(md5sum < "$w/object" | cut -d' ' -f1)
    expect "PutObject" "$(s3 PUT "/$bucket/one.bin" "$sha" "$w/out" -T "$w/object")" 200
    expect "PutObject ETag is the MD5" "$(header ETag)" "\"$md5\""
    expect "PutObject with a wrong payload hash is refused" \
        "$(s3 PUT "/$bucket/wrong.bin" "$empty_sha256" "$w/out" --data-binary "not empty")" 400
    expect "GetObject" "$(s3 GET "/$bucket/one.bin" "$empty_sha256" "$w/got")" 200
    expect "GetObject bytes" "$(sha256sum < "$w/got" | cut -d' ' -f1)" "$sha"
    expect "GetObject of bytes 1000-1999" \
        "$(s3 GET "/$bucket/one.bin" "$empty_sha256" "$w/got" -H "Range: bytes=1000-1999")" 206
    expect "ranged GetObject Content-Range" "$(header Content-Range)" "bytes 1000-1999/300000"
    expect "ranged GetObject bytes" "$(sha256sum < "$w/got" | cut -d' ' -f1)" \
        "$(tail -c +1001 "$w/object" | head -c 1000 | sha256sum | cut -d' ' -f1)"
    expect "HeadObject" "$(s3 HEAD "/$bucket/one.bin" "$empty_sha256" /dev/null) $(header Content-Length)" \
        "200 300000"

    # A multipart upload of two parts; every part but the last must hold at least 5 MiB.
    head -c $((5 * 1024 * 1024)) /dev/urandom > "$w/part1"
    head -c 200000 /dev/urandom > "$w/part2"
    cat "$w/part1" "$w/part2" > "$w/whole"
    expect "CreateMultipartUpload" "$(s3 POST "/$bucket/two.bin?uploads=" "$empty_sha256" "$w/out")" 200
    local upload part etags="" md5s="" complete="<CompleteMultipartUpload>"
    upload=$(urlencode "$(xml_value UploadId < "$w/out")")
    for part in 1 2; do
        code=$(s3 PUT "/$bucket/two.bin?partNumber=$part&uploadId=$upload" \
            "$(sha256sum < "$w/part$part" | cut -d' ' -f1)" "$w/out" -T "$w/part$part")
        expect "UploadPart $part" "$code" 200
        md5s+=$(md5sum < "$w/part$part" | cut -d' ' -f1)
        complete+="<Part><PartNumber>$part</PartNumber><ETag>$(header ETag)</ETag></Part>"
    done
    complete+="</CompleteMultipartUpload>"
    printf '%s' "$complete" > "$w/complete"
    code=$(s3 POST "/$bucket/two.bin?uploadId=$upload" "$(sha256sum < "$w/complete" | cut -d' ' -f1)" \
        "$w/out" --data-binary "@$w/complete" -H "Content-Type: application/xml")
    expect "CompleteMultipartUpload" "$code $(grep -c '<Error>' "$w/out" || true)" "200 0"
    # S3's multipart ETag: the MD5 of the parts' binary MD5s, a dash, the number of parts.
    local escaped=""
    while [ -n "$md5s" ]; do
        escaped+="\\x${md5s:0:2}"
        md5s=${md5s:2}
    done
    etags="\"$(printf '%b' "$escaped" | md5sum | cut -d' ' -f1)-2\""
    expect "multipart ETag" "$(xml_value ETag < "$w/out" | sed 's/&quot;/"/g')" "$etags"
    expect "GetObject of the multipart object" "$(s3 GET "/$bucket/two.bin" "$empty_sha256" "$w/got")" 200
    expect "multipart object bytes" "$(sha256sum < "$w/got" | cut -d' ' -f1)" \
        "$(sha256sum < "$w/whole" | cut -d' ' -f1)"

    # Listing.
    expect "ListObjectsV2" "$(s3 GET "/$bucket?list-type=2" "$empty_sha256" "$w/out")" 200
    expect "ListObjectsV2 keys" "$(grep -o '<Key>[^<]*</Key>' "$w/out" | tr -d '\n')" \
        "<Key>one.bin</Key><Key>two.bin</Key>"
    expect "ListObjectsV2 with a prefix" \
        "$(s3 GET "/$bucket?list-type=2&prefix=tw" "$empty_sha256" "$w/out") $(grep -o '<Key>[^<]*</Key>' "$w/out")" \
        "200 <Key>two.bin</Key>"

    # Deletion.
    expect "DeleteObject one.bin" "$(s3 DELETE "/$bucket/one.bin" "$empty_sha256" "$w/out")" 204
    expect "DeleteObject two.bin" "$(s3 DELETE "/$bucket/two.bin" "$empty_sha256" "$w/out")" 204
    code=$(s3 GET "/$bucket/one.bin" "$empty_sha256" "$w/out")
    expect "GetObject of a deleted object" "$code $(xml_value Code < "$w/out")" "404 NoSuchKey"
    expect "DeleteBucket" "$(s3 DELETE "/$bucket" "$empty_sha256" "$w/out")" 204

    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

# expect WHAT GOT WANT: one check of smoke.
expect() {
    if [ "$2" = "$3" ]; then
        passed=$((passed + 1))
        echo "passed: $1"
    else
        failed=$((failed + 1))
        echo "FAILED: $1: got '$2', want '$3'"
    fi
}

# header NAME: the value of a header of the last response of s3.
header() { grep -i "^$1:" "$s3_headers" | tail -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }

# xml_value NAME: the text of the first <NAME> element on standard input.
xml_value() { sed -n "s:.*<$1>\\([^<]*\\)</$1>.*:\\1:p" | head -n 1; }

case "${1:-}" in
    start) [ $# -eq 2 ] || usage; cmd_start "$2" ;;
    stop) [[ $# -ge 2 && $# -le 3 ]] || usage; cmd_stop "$2" "${3:-}" ;;
    bucket) [ $# -eq 3 ] || usage; cmd_bucket "$2" "$3" ;;
    smoke) [ $# -eq 2 ] || usage; cmd_smoke "$2" ;;
    status) [ $# -eq 2 ] || usage; cmd_status "$2" ;;
    watch) [ $# -eq 3 ] || usage; cmd_watch "$2" "$3" ;;
    *) usage ;;
esac
