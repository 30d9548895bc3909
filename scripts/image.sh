#!/usr/bin/env bash
# make image: builds the project's Dockerfile, unchanged, with buildah —
# no Docker daemon and no registry needed. buildah runs with
# `--isolation chroot` and the vfs storage driver (no user namespaces, no
# overlay mounts: both work as plain root in a container or a CI sandbox).
# The Dockerfile's base, debian:bookworm-slim, is made here with mmdebstrap
# from Debian's mirrors when buildah's store does not have it yet, and is
# tagged docker.io/library/debian:bookworm-slim so the FROM resolves locally.
#
# The store lives under the repo's .cache/image (TAKT_IMAGE_STORE to move
# it), so worktrees and CI runs on one machine never share or lock it.
#   scripts/image.sh            build; prints the image's name and size
#   scripts/image.sh buildah …  run buildah against the project's store
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
store=${TAKT_IMAGE_STORE:-$root/.cache/image}
image=${TAKT_IMAGE:-localhost/takt-controller:dev}
base=docker.io/library/debian:bookworm-slim
mkdir -p "$store"

bh() {
	buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs "$@"
}

if [ "${1:-}" = buildah ]; then
	shift
	bh "$@"
	exit
fi

command -v buildah >/dev/null && command -v mmdebstrap >/dev/null || {
	echo "image: buildah and mmdebstrap are needed (make deps installs them)" >&2
	exit 1
}

t0=$(date +%s)
if ! bh inspect --type image "$base" >/dev/null 2>&1; then
	echo "image: making $base with mmdebstrap (minbase)" >&2
	tar="$store/bookworm-slim.tar"
	# What the official slim image drops: manuals, docs (the copyrights
	# kept), translations. The sources are the official image's. Merged
	# /usr by symlinks, as debootstrap and the official image have it:
	# without the hook mmdebstrap installs usrmerge, which pulls in perl
	# (47 MB of the base).
	mmdebstrap --variant=minbase --mode=root --format=tar \
		--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-include=/usr/share/locale/locale.alias' \
		--aptopt='Acquire::Check-Valid-Until "false"' \
		--customize-hook='rm -rf "$1"/var/lib/apt/lists/*' \
		bookworm "$tar" \
		"deb http://deb.debian.org/debian bookworm main" \
		"deb http://deb.debian.org/debian bookworm-updates main" \
		"deb http://deb.debian.org/debian-security bookworm-security main" >&2
	ctr=$(bh from scratch)
	bh add "$ctr" "$tar" / >/dev/null
	bh config --cmd '["bash"]' --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
	bh commit --rm -q "$ctr" "$base" >/dev/null
	rm -f "$tar"
	echo "image: $base made in $(($(date +%s) - t0)) s" >&2
fi

# --layers: a rebuild reuses the apt steps and recompiles only what changed.
bh bud --isolation chroot --layers --pull=false -f "$root/Dockerfile" -t "$image" "$root" >&2
size=$(bh inspect --type image --format '{{.Size}}' "$image" 2>/dev/null || true)
[ -n "$size" ] || size=$(bh images --format '{{.Size}}' "$image" | head -1)
echo "image: $image built in $(($(date +%s) - t0)) s, size $size"
