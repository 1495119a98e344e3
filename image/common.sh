# Sourced by image/*.sh: preflight checks, the containers.conf, shared names.
# Every check that fails prints one line saying what is missing and exits non-zero.

IMAGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$IMAGE_DIR/.." && pwd)
IMAGE_NAME=${IMAGE_NAME:-localhost/agent-registry}
# Generated state (containers.conf, base rootfs scratch) lives outside the repository.
IMAGE_STATE=${IMAGE_STATE:-/var/lib/agent-registry-image}

die() { echo "image: $*" >&2; exit 1; }

# Root, podman, runc and debootstrap; installs the packages with apt when it can.
image_preflight() {
	[ "$(id -u)" = 0 ] || die "needs root (rootful podman with runc): run as root, e.g. sudo make image"
	local missing=()
	command -v podman >/dev/null || missing+=(podman)
	command -v runc >/dev/null || missing+=(runc)
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	if [ ${#missing[@]} -gt 0 ]; then
		command -v apt-get >/dev/null ||
			die "missing ${missing[*]} and apt-get is not available: install ${missing[*]} yourself"
		echo "image: installing ${missing[*]} (apt-get)" >&2
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
			die "apt-get install ${missing[*]} failed"
	fi
	image_containers_conf
}

# Writes containers.conf from the template with the host's hard limits; exports CONTAINERS_CONF.
image_containers_conf() {
	local nofile nproc
	nofile=$(ulimit -Hn)
	nproc=$(ulimit -Hu)
	[ "$nofile" = unlimited ] && nofile=1048576
	[ "$nproc" = unlimited ] && nproc=32768
	# podman (4.3) lowers its own nproc hard limit to 32768 when it starts, and its children
	# cannot go above that either.
	[ "$nproc" -gt 32768 ] && nproc=32768
	mkdir -p "$IMAGE_STATE"
	sed -e "s/@NOFILE@/$nofile/g" -e "s/@NPROC@/$nproc/g" \
		"$IMAGE_DIR/containers.conf.in" >"$IMAGE_STATE/containers.conf.tmp"
	mv "$IMAGE_STATE/containers.conf.tmp" "$IMAGE_STATE/containers.conf"
	export CONTAINERS_CONF="$IMAGE_STATE/containers.conf"
}

# Host CA certificates added to the system store (e.g. an egress or artifact proxy's CA):
# the base image trusts them too, or pip inside the build fails certificate verification.
image_extra_cas() {
	find /usr/local/share/ca-certificates -type f -name '*.crt' 2>/dev/null | LC_ALL=C sort
}

# The base image's tag: Debian suite plus a hash of what goes into it, so a changed
# builder or CA set builds a new base and an unchanged one is reused.
image_base_ref() {
	local sum
	sum=$({ cat "$IMAGE_DIR/base.sh"; image_extra_cas | xargs -r cat; } | sha256sum | cut -c1-12)
	echo "localhost/agent-registry-base:bookworm-$sum"
}

# Seconds since a `date +%s.%N` stamp, one decimal.
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }
