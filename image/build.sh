#!/usr/bin/env bash
# Builds the registry image for one environment with rootful podman, from the local base
# (image/base.sh makes it when missing), and prints the image reference on stdout.
#
#   image/build.sh [--env prod] [--context DIR] [--tag REF] [--quiet]
#
# Tag: localhost/agent-registry:<app version>-cfg-<12 hex of the bundle's sha256>.
# Provenance comes from git unless GIT_COMMIT, GIT_BRANCH, GIT_TAG, GIT_DIRTY or GIT_SOURCE
# are set.
# Timings and the image size go to stderr ("image: built … in 12.3 s, 347 MB").
set -euo pipefail
# shellcheck source=image/common.sh
. "$(dirname "$0")/common.sh"

env_name=prod
context=$REPO_ROOT
tag=""
quiet=0
while [ $# -gt 0 ]; do
	case $1 in
		--env) env_name=$2; shift 2 ;;
		--context) context=$(cd "$2" && pwd); shift 2 ;;
		--tag) tag=$2; shift 2 ;;
		--quiet | -q) quiet=1; shift ;;
		*) die "unknown argument $1 (usage: image/build.sh [--env ENV] [--context DIR] [--tag REF] [--quiet])" ;;
	esac
done

registry_build=${REGISTRY_BUILD:-$REPO_ROOT/.venv/bin/registry-build}
[ -x "$registry_build" ] || die "missing $registry_build: run make install first"

# The host's package index for pip inside the build (http/https only; local file:// indexes
# are not reachable from the build), as a pip.conf passed as a build secret.
pip_index_conf() {
	local out=$1 py=$REPO_ROOT/.venv/bin/python
	"$py" -m pip config list 2>/dev/null | "$py" "$IMAGE_DIR/pip_index.py" >"$out"
	[ -s "$out" ]
}

git_in() { git -C "$REPO_ROOT" "$@" 2>/dev/null; }

main() {
	image_preflight
	local start base_start base tmp
	start=$(date +%s.%N)
	base_start=$start
	base=$("$IMAGE_DIR/base.sh")
	local base_s
	base_s=$(elapsed "$base_start")
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT

	local app_version cfg
	app_version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$context/pyproject.toml" | head -n1)
	[ -n "$app_version" ] || die "no version in $context/pyproject.toml"
	cfg=$("$registry_build" build --root "$context" --env "$env_name" --out "$tmp/bundle" -q) ||
		die "registry-build build --env $env_name failed (run it for the messages)"
	[ -n "$tag" ] || tag="$IMAGE_NAME:$app_version-cfg-${cfg:7:12}"

	local commit branch gtag dirty source
	commit=${GIT_COMMIT:-$(git_in rev-parse HEAD || true)}
	if [ -n "$commit" ] && ! [[ $commit =~ ^[0-9a-f]{40}([0-9a-f]{24})?$ ]]; then
		commit=$(git_in rev-parse --verify "$commit^{commit}") ||
			die "GIT_COMMIT=$commit is not a commit here; pass the full 40-hex sha"
	fi
	branch=${GIT_BRANCH:-$(git_in rev-parse --abbrev-ref HEAD || true)}
	[ "$branch" = HEAD ] && branch=""
	gtag=${GIT_TAG:-$(git_in describe --tags --exact-match HEAD || true)}
	if [ -n "${GIT_DIRTY:-}" ]; then
		dirty=$GIT_DIRTY
	elif [ -n "$commit" ]; then
		dirty=false
		[ -n "$(git_in status --porcelain --untracked-files=all -- templates schemas)" ] && dirty=true
	else
		dirty=""
	fi
	# The repository's address without any credentials it may carry.
	source=${GIT_SOURCE:-$(git_in remote get-url origin || true)}
	source=$(sed -E 's#^([a-z+]+://)[^/@]*@#\1#' <<<"$source")

	local args=(
		--format docker --pull=never --layers
		-f "$context/Containerfile" -t "$tag"
		--build-arg PYTHON_IMAGE="$base"
		--build-arg REGISTRY_ENV="$env_name"
		--build-arg VERSION="$app_version"
		--build-arg CONFIG_VERSION="$cfg"
		--build-arg GIT_COMMIT="$commit"
		--build-arg GIT_BRANCH="$branch"
		--build-arg GIT_TAG="$gtag"
		--build-arg GIT_DIRTY="$dirty"
	)
	[ -n "$source" ] && args+=(--build-arg SOURCE="$source")
	pip_index_conf "$tmp/pip.conf" && args+=(--secret "id=pip.conf,src=$tmp/pip.conf")

	local build_start log=$tmp/build.log
	build_start=$(date +%s.%N)
	if [ "$quiet" = 1 ]; then
		podman build "${args[@]}" "$context" >"$log" 2>&1 ||
			die "podman build failed: $(grep -v '^\s*$' "$log" | tail -n 12)"
	else
		podman build "${args[@]}" "$context" >&2 || die "podman build failed"
	fi
	local build_s size
	build_s=$(elapsed "$build_start")
	size=$(podman image inspect --format '{{.Size}}' "$tag")
	echo "image: built $tag ($env_name, config $cfg) in $build_s s" \
		"(base $base_s s, total $(elapsed "$start") s), $((size / 1000000)) MB" >&2
	echo "$tag"
}

main
