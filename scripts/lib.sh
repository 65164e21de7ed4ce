# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shared helpers of zdref's scripts: where things are cached, what the
# kernel matrix holds and how to run a command in the trixie build root.

ZDREF_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ZDREF_CACHE=${ZDREF_CACHE:-$HOME/.cache/zdref}
ZDREF_TRIXIE=$ZDREF_CACHE/trixie
ZDREF_CONF=$ZDREF_TOP/scripts/kernels.conf

zdref_log() { printf 'zdref: %s\n' "$*" >&2; }
zdref_die() { printf 'zdref: error: %s\n' "$*" >&2; exit 1; }

# The names of the kernels of the matrix, in kernels.conf order.
zdref_kernels() { awk '!/^#/ && NF { print $1 }' "$ZDREF_CONF"; }

# zdref_kernel NAME: describe one kernel of the matrix in K_* variables.
#   K_ROOT     where its image and modules packages are unpacked
#   K_VMLINUZ  its kernel image
#   K_MODDIR   its modules tree (lib/modules/RELEASE under K_ROOT)
#   K_KDIR     its headers, as the build sees them (inside the trixie root
#              for build=trixie), K_KDIR_HOST the same seen from the host
zdref_kernel() {
	local line
	line=$(awk -v n="$1" '!/^#/ && $1 == n' "$ZDREF_CONF")
	[ -n "$line" ] || zdref_die "unknown kernel '$1'; kernels.conf knows: $(zdref_kernels | tr '\n' ' ')"
	read -r K_NAME K_SUITE K_RELEASE K_BUILD K_IMAGES <<<"$line"
	K_ROOT=$ZDREF_CACHE/kernels/$K_NAME
	if [ -d "$K_ROOT/usr/lib/modules/$K_RELEASE" ]; then
		K_MODDIR=$K_ROOT/usr/lib/modules/$K_RELEASE
	else
		K_MODDIR=$K_ROOT/lib/modules/$K_RELEASE
	fi
	# bookworm ships /boot/vmlinuz-RELEASE, trixie's linux-binary-* puts
	# the image beside the modules.
	K_VMLINUZ=$K_ROOT/boot/vmlinuz-$K_RELEASE
	[ -f "$K_VMLINUZ" ] || K_VMLINUZ=$K_MODDIR/vmlinuz
	K_KDIR=/usr/src/linux-headers-$K_RELEASE
	case "$K_BUILD" in
	host) K_KDIR_HOST=$K_KDIR ;;
	trixie) K_KDIR_HOST=$ZDREF_TRIXIE$K_KDIR ;;
	*) zdref_die "kernels.conf: kernel $K_NAME: build must be host or trixie, not '$K_BUILD'" ;;
	esac
}

# zdref_in_trixie CMD...: run CMD in the trixie root, with the repository
# at /zdref, the KUnit kernel cache ($ZDREF_CACHE/kunit) at /kunit, and
# /proc and /dev mounted (objtool reads /proc).  The mounts live in a
# private mount namespace and vanish with the command.
zdref_in_trixie() {
	[ -x "$ZDREF_TRIXIE/usr/bin/apt-get" ] || zdref_die "no trixie root at $ZDREF_TRIXIE: run scripts/setup"
	mkdir -p "$ZDREF_TRIXIE/zdref" "$ZDREF_TRIXIE/kunit" "$ZDREF_CACHE/kunit"
	unshare --mount --propagation private --fork -- /bin/sh -ec '
		root=$1; top=$2; kunit=$3; shift 3
		mount --bind "$top" "$root/zdref"
		mount --bind "$kunit" "$root/kunit"
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
	' zdref-trixie "$ZDREF_TRIXIE" "$ZDREF_TOP" "$ZDREF_CACHE/kunit" "$@"
}

# zdref_unpack_source: Debian's linux-source (scripts/setup --source),
# unpacked once per source version under $ZDREF_CACHE/kunit/src, where
# zdref_in_trixie sees it as /kunit/src.  Builds from it go to directories
# of their own and leave it pristine.  Sets SRC_NAME (linux-source-X.Y),
# SRC (its path on the host) and SRC_VERSION (the Debian package version).
zdref_unpack_source() {
	local tarball ver stamp=$ZDREF_CACHE/source/.zdref-stamp cache=$ZDREF_CACHE/kunit/src
	tarball=$(find "$ZDREF_CACHE/source" -maxdepth 1 -name 'linux-source-*.tar.xz' | head -n 1)
	[ -n "$tarball" ] && [ -f "$stamp" ] ||
		zdref_die "no kernel source in $ZDREF_CACHE/source: run scripts/setup --source"
	ver=$(cat "$stamp")
	SRC_NAME=$(basename "$tarball" .tar.xz)
	SRC=$cache/$SRC_NAME
	if [ "$(cat "$SRC/.zdref-stamp" 2>/dev/null)" != "$ver" ]; then
		zdref_log "unpacking $SRC_NAME ($ver)"
		rm -rf "$cache"
		mkdir -p "$cache"
		tar -xJf "$tarball" -C "$cache"
		echo "$ver" >"$SRC/.zdref-stamp"
	fi
	SRC_VERSION=$ver
}

# zdref_tap ok|fail|skip NAME [REASON]: one TAP line of a test script that
# prints its own stream (scripts/dkms-test, scripts/hmm-tests), numbered
# in the script's $n, failures counted in its $failures.
zdref_tap() {
	n=$((n + 1))
	case "$1" in
	ok) echo "ok $n $2" ;;
	skip) echo "ok $n $2 # SKIP $3" ;;
	*) failures=$((failures + 1)); echo "not ok $n $2" ;;
	esac
}
