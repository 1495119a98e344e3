#!/usr/bin/env bash
# Makes the local base image (Debian bookworm minbase with Python 3.11) unless it exists,
# and prints its reference. No registry is involved: debootstrap from the Debian mirror the
# host's apt already uses, then `podman import`. The tag hashes this script and the host's
# extra CA certificates, so an unchanged base is reused across builds on one machine.
set -euo pipefail
# shellcheck source=image/common.sh
. "$(dirname "$0")/common.sh"

# The mirror of the host's apt sources that serves bookworm; Debian's CDN otherwise.
debian_mirror() {
	local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
	local found
	found=$(awk '
		FNR == 1 { uris = ""; suites = "" }
		/^deb[ \t]/ {
			for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) break
			if ($(i + 1) == "bookworm") { print $i; done = 1; exit }
		}
		/^URIs:/ { uris = $2 }
		/^Suites:/ { suites = $0 }
		/^[ \t]*$/ || /^Signed-By:/ {
			if (uris != "" && suites ~ /[ \t]bookworm([ \t]|$)/) { print uris; done = 1; exit }
		}
		END { if (!done && uris != "" && suites ~ /[ \t]bookworm([ \t]|$)/) print uris }
	' "${files[@]}" 2>/dev/null | head -n1)
	echo "${found:-http://deb.debian.org/debian}"
}

cleanup_rootfs() {
	local dir=$1 target
	[ -d "$dir" ] || return 0
	# debootstrap mounts /proc and /sys inside; never delete through a mount.
	while read -r target; do umount -l "$target" 2>/dev/null || true; done \
		< <(findmnt -rn -o TARGET | grep -F "$dir/" | sort -r)
	rm -rf --one-file-system "$dir"
}

main() {
	image_preflight
	local ref
	ref=$(image_base_ref)
	if podman image exists "$ref"; then
		echo "$ref"
		return 0
	fi
	[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || {
		command -v apt-get >/dev/null || die "missing /usr/share/keyrings/debian-archive-keyring.gpg: install debian-archive-keyring"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debian-archive-keyring >/dev/null ||
			die "apt-get install debian-archive-keyring failed"
	}
	exec 9>"$IMAGE_STATE/base.lock"
	flock 9
	if podman image exists "$ref"; then  # another build made it meanwhile
		echo "$ref"
		return 0
	fi
	local mirror rootfs start log
	mirror=$(debian_mirror)
	start=$(date +%s.%N)
	rootfs=$(mktemp -d "$IMAGE_STATE/rootfs.XXXXXX")
	log="$IMAGE_STATE/debootstrap.log"
	# shellcheck disable=SC2064
	trap "cleanup_rootfs '$rootfs'" EXIT
	echo "image: making base $ref (debootstrap bookworm from $mirror, about a minute)" >&2
	debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
		bookworm "$rootfs" "$mirror" >"$log" 2>&1 ||
		die "debootstrap failed (last lines of $log: $(tail -n 3 "$log" | tr '\n' ' '))"
	local ca
	while read -r ca; do
		install -m 0644 "$ca" "$rootfs/usr/local/share/ca-certificates/"
	done < <(image_extra_cas)
	chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
	chroot "$rootfs" apt-get clean
	rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log \
		"$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old
	tar --numeric-owner --xattrs -C "$rootfs" -c . | podman import --quiet \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV LANG=C.UTF-8' \
		--change 'CMD ["/bin/bash"]' \
		--message "debootstrap minbase bookworm from $mirror" - "$ref" >/dev/null
	echo "image: base $ref made in $(elapsed "$start") s" >&2
	echo "$ref"
}

main "$@"
