# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# The K_*, SRC_* and ZDREF_ACCEL_* variables set here are the outputs of
# its functions, read by the scripts that source it:
# shellcheck disable=SC2034
#
# Shared helpers of zdref's scripts: where things are cached, what the
# kernel matrix holds, how to run a command where a kernel's modules are
# built (the host or a debootstrap'ed build root) and which accelerator
# qemu can use here.

ZDREF_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ZDREF_CACHE=${ZDREF_CACHE:-$HOME/.cache/zdref}
ZDREF_CONF=$ZDREF_TOP/scripts/kernels.conf
# The build roots kernels.conf may name, each a Debian suite debootstrap'ed
# under the cache: trixie (gcc-14, trixie's libc: trixie's own 6.12 and
# trixie-backports' 7.x) and sid (gcc-16-for-host, which only sid has).
ZDREF_ROOTS="trixie sid"

zdref_log() { printf 'zdref: %s\n' "$*" >&2; }
zdref_die() { printf 'zdref: error: %s\n' "$*" >&2; exit 1; }

# The names of the kernels of the matrix, in kernels.conf order.
zdref_kernels() { awk '!/^#/ && NF { print $1 }' "$ZDREF_CONF"; }

# The kernels scripts/kunit builds a debug kernel of, in that order.
zdref_debug_kernels() { awk '!/^#/ && NF && $5 == "debug" { print $1 }' "$ZDREF_CONF"; }

# zdref_named_or_all [NAME...]: the kernels named, or else every kernel of
# the matrix (what scripts given KERNEL... arguments work on).
zdref_named_or_all() {
	if [ $# -gt 0 ]; then printf '%s\n' "$@"; else zdref_kernels; fi
}

# zdref_kernel NAME: describe one kernel of the matrix in K_* variables.
#   K_ROOT     where its image and modules packages are unpacked
#   K_VMLINUZ  its kernel image
#   K_MODDIR   its modules tree (lib/modules/RELEASE under K_ROOT)
#   K_KDIR     its headers, as the build sees them (inside the build root
#              for a build other than host), K_KDIR_HOST the same seen
#              from the host
#   K_SYSROOT  the build root's / seen from the host (empty for host)
#   K_TOP      this repository as the build sees it (/zdref in a root)
#   K_DEBUG    "debug" when scripts/kunit builds a debug kernel of it
zdref_kernel() {
	local line
	line=$(awk -v n="$1" '!/^#/ && $1 == n' "$ZDREF_CONF")
	[ -n "$line" ] || zdref_die "unknown kernel '$1'; kernels.conf knows: $(zdref_kernels | tr '\n' ' ')"
	read -r K_NAME K_SUITE K_RELEASE K_BUILD K_DEBUG K_IMAGES <<<"$line"
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
	case " host $ZDREF_ROOTS " in
	*" $K_BUILD "*) ;;
	*) zdref_die "kernels.conf: kernel $K_NAME: build must be one of host $ZDREF_ROOTS, not '$K_BUILD'" ;;
	esac
	case "$K_DEBUG" in
	debug|-) ;;
	*) zdref_die "kernels.conf: kernel $K_NAME: debug must be 'debug' or '-', not '$K_DEBUG'" ;;
	esac
	if [ "$K_BUILD" = host ]; then
		K_SYSROOT="" K_TOP=$ZDREF_TOP
	else
		K_SYSROOT=$ZDREF_CACHE/$K_BUILD K_TOP=/zdref
	fi
	K_KDIR_HOST=$K_SYSROOT$K_KDIR
}

# zdref_debug_kernel NAME: describe the debug kernel scripts/kunit builds
# from the source of kernel NAME (kernels.conf: debug) in zdref_kernel's
# variables, where they apply, and three of its own:
#   K_NAME       kunit/NAME: its zdref build under build/ (zdref_probed)
#   K_KDIR       its build tree, the KDIR of module builds, as the trixie
#                root sees it; K_KDIR_HOST the same from the host
#   K_RELEASE    its uname -r, K_VMLINUZ its image (once it is built)
#   K_KO         zdref.ko built against it
#   K_HASH       the cache key of its build: the config fragment, the
#                source and the compiler
#   K_BUILT      non-empty once scripts/kunit --build-only has built it
# Also sets SRC_* (zdref_unpack_source NAME).
zdref_debug_kernel() {
	local cc
	zdref_debug_kernels | grep -qxF -- "$1" ||
		zdref_die "kernels.conf marks no kernel '$1' debug; these: $(zdref_debug_kernels | tr '\n' ' ')"
	zdref_unpack_source "$1"
	cc=$(zdref_in_trixie gcc --version | head -n 1)
	K_HASH=$( { cat "$ZDREF_TOP/kunit/debug.config"; echo "$SRC_NAME $SRC_VERSION"; echo "$cc"; } |
		sha256sum | cut -c1-16)
	K_NAME=kunit/$1
	K_KDIR=/kunit/$K_HASH/build
	K_KDIR_HOST=$ZDREF_CACHE$K_KDIR
	K_RELEASE=$(cat "$K_KDIR_HOST/include/config/kernel.release" 2>/dev/null || true)
	K_VMLINUZ=$K_KDIR_HOST/arch/x86/boot/bzImage
	K_KO=$ZDREF_TOP/build/kunit/$1/zdref.ko
	K_BUILT=
	[ -f "$ZDREF_CACHE/kunit/$K_HASH/.zdref-built" ] && K_BUILT=1
	return 0
}

# zdref_probed NAME...: did every probe NAME (probes/NAME.c, upper case
# here) find its feature in the kernel last named by zdref_kernel?  Read
# from the answers of its build (scripts/build-matrix).
zdref_probed() {
	local name
	for name; do
		grep -q "^#define ZDREF_HAVE_$name 1\$" \
			"$ZDREF_TOP/build/$K_NAME/generated/zdref_config.h" || return 1
	done
}

# The Debian mirror the host already uses, so that added suites and the
# build roots come from the same place.
zdref_debian_mirror() {
	local uri
	uri=$(grep -hE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '{ print $2 }' | grep -E '/debian/?$' | head -n 1 || true)
	if [ -z "$uri" ]; then
		uri=$(grep -hE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list 2>/dev/null |
			awk '{ print $2 }' | grep -E '/debian/?$' | head -n 1 || true)
	fi
	[ -n "$uri" ] || zdref_die "found no Debian mirror in /etc/apt/sources.list{,.d}: add bookworm there first"
	echo "${uri%/}"
}

# zdref_suite_uri MIRROR SUITE: where SUITE lives: Debian's security
# suites beside the mirror, at MIRROR-security, the others on MIRROR.
zdref_suite_uri() {
	case "$2" in
	*-security) echo "$1-security" ;;
	*) echo "$1" ;;
	esac
}

# zdref_in_root ROOT CMD...: run CMD in the build root ROOT (trixie,
# sid), with the repository at /zdref, the KUnit kernel cache
# ($ZDREF_CACHE/kunit) at /kunit, and /proc and /dev mounted (objtool
# reads /proc).  The mounts live in a private mount namespace and vanish
# with the command.
zdref_in_root() {
	local root=$ZDREF_CACHE/$1
	shift
	[ -x "$root/usr/bin/apt-get" ] || zdref_die "no build root at $root: run scripts/setup"
	mkdir -p "$root/zdref" "$root/kunit" "$ZDREF_CACHE/kunit"
	unshare --mount --propagation private --fork -- /bin/sh -ec '
		root=$1; top=$2; kunit=$3; shift 3
		mount --bind "$top" "$root/zdref"
		mount --bind "$kunit" "$root/kunit"
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
	' zdref-root "$root" "$ZDREF_TOP" "$ZDREF_CACHE/kunit" "$@"
}

# zdref_root_sources SUITE MIRROR: the apt sources of a root of SUITE:
# the suite, and the suites its kernels of the matrix come from.
zdref_root_sources() {
	local suite suites=$1
	case "$1" in
	bookworm) suites="bookworm bookworm-security" ;;
	trixie) suites="trixie trixie-backports trixie-security" ;;
	esac
	for suite in $suites; do
		printf 'deb %s %s main\n' "$(zdref_suite_uri "$2" "$suite")" "$suite"
	done
}

# zdref_ensure_root SUITE [DIR]: a minbase debootstrap of SUITE at
# $ZDREF_CACHE/DIR (DIR: SUITE by default; what zdref_in_root and
# zdref_root_install name it by), its apt sources up to date
# (zdref_root_install runs apt-get update before it installs anything).
zdref_ensure_root() {
	local name=$1 root=$ZDREF_CACHE/${2:-$1} mirror t0=$SECONDS
	mirror=$(zdref_debian_mirror)
	if [ ! -f "$root/.zdref-root" ]; then
		zdref_log "debootstrap $name into $root (about a minute)"
		rm -rf "$root"
		mkdir -p "$(dirname "$root")"
		debootstrap --variant=minbase "$name" "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
			zdref_die "debootstrap $name failed: see $root.debootstrap.log"
		touch "$root/.zdref-root"
		zdref_log "root $name made at $root in $((SECONDS - t0)) s"
	fi
	cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
	# sid's Release is valid for a week only: a mirror that lags (or a
	# snapshot of one) still serves its packages, signed, but apt would
	# refuse them as expired.  The root only builds modules for tests.
	[ "$name" != sid ] ||
		echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99zdref-valid-until"
	if [ "$(zdref_root_sources "$name" "$mirror")" != "$(cat "$root/etc/apt/sources.list" 2>/dev/null)" ]; then
		zdref_root_sources "$name" "$mirror" >"$root/etc/apt/sources.list"
	fi
}

# zdref_root_has ROOT PKG...: are all PKG installed in ROOT?
zdref_root_has() {
	local root=$1 p
	shift
	for p in "$@"; do
		zdref_in_root "$root" dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || return 1
	done
}

# zdref_root_install ROOT SUITE PKG...: install what ROOT lacks of PKG,
# from SUITE.
zdref_root_install() {
	local root=$1 suite=$2
	shift 2
	zdref_root_has "$root" "$@" && return
	zdref_log "$root root: installing $*"
	zdref_in_root "$root" apt-get update -qq
	zdref_in_root "$root" apt-get install -y -qq --no-install-recommends -t "$suite" "$@" >/dev/null
}

# zdref_deb_release: the Debian release whose dkms builds the modules of
# the kernel last named by zdref_kernel (kernels.conf's build column:
# bookworm's for host, trixie's for the trixie root), where
# scripts/deb-test installs zdref-dkms for it; empty for a kernel no
# release's dkms serves (sid's gcc-16).
zdref_deb_release() {
	case "$K_BUILD" in
	host) echo bookworm ;;
	trixie) echo trixie ;;
	esac
}

# zdref_packaging MODPROBE_CONF UDEV_RULE: what a guest that loads zdref
# as installed needs of the modprobe.d example and the udev rule (the
# tree's packaging/ files, or the copies a package installed, whose
# options line is commented out): Z_OPTIONS, Z_REGION, Z_TYPE, Z_MEMMAP
# (the memmap= that goes with the region), Z_SUBSYSTEM and Z_KERNEL (the
# rule's match).  Dies if one is missing.
zdref_packaging() {
	Z_OPTIONS=$(sed -n 's/^#\{0,1\}options zdref //p' "$1")
	Z_REGION=$(sed -n 's/.*region=\([^ ]*\).*/\1/p' <<<"$Z_OPTIONS")
	Z_TYPE=$(sed -n 's/.*type=\([^ ]*\).*/\1/p' <<<"$Z_OPTIONS")
	Z_MEMMAP=${Z_REGION%@*}\$${Z_REGION#*@}
	Z_SUBSYSTEM=$(sed -n 's/.*SUBSYSTEM=="\([^"]*\)".*/\1/p' "$2")
	Z_KERNEL=$(sed -n 's/.*KERNEL=="\([^"]*\)".*/\1/p' "$2")
	[ -n "$Z_REGION" ] && [ -n "$Z_TYPE" ] ||
		zdref_die "$1: no 'options zdref region=SIZE@START type=TYPE' line"
	[ -n "$Z_SUBSYSTEM" ] && [ -n "$Z_KERNEL" ] ||
		zdref_die "$2: no SUBSYSTEM==\"...\" and KERNEL==\"...\" match"
}

# zdref_guest_loaded_script STEPS: a guest command (scripts/vm) that runs
# STEPS, guest shell lines, with what checks of an installed zdref share
# (after zdref_packaging): t NAME CMD..., one TAP line for CMD; params,
# the module's region and type in sysfs are the example's; udev_match,
# the rule matches /dev/zdref0.  It exits 1 when a step failed.
zdref_guest_loaded_script() {
	# shellcheck disable=SC2016 # expanded in the guest
	printf '%s\n' '
t() {
	name=$1; shift
	if out=$("$@" 2>&1); then echo "ok - $name"; else
		[ -n "$out" ] && echo "$out" | sed "s/^/# /"; echo "not ok - $name"; rc=1; fi
}
params() {
	echo "region=$(cat /sys/module/zdref/parameters/region) type=$(cat /sys/module/zdref/parameters/type)"
	[ "$(cat /sys/module/zdref/parameters/region)" = '"$Z_REGION"' ] &&
		[ "$(cat /sys/module/zdref/parameters/type)" = '"$Z_TYPE"' ]
}
udev_match() {
	sub=$(basename "$(readlink /sys/class/zdref/zdref0/subsystem)")
	echo "/dev/zdref0: SUBSYSTEM $sub"
	[ "$sub" = '"$Z_SUBSYSTEM"' ] || return 1
	case zdref0 in '"$Z_KERNEL"') ;; *) return 1 ;; esac
}
rc=0
mkdir -p /etc/modprobe.d' "$1" 'exit $rc'
}

# zdref_in_trixie CMD...: CMD in the trixie root (the KUnit kernel, the
# hmm-tests binary and the 7.x modules are built there).
zdref_in_trixie() { zdref_in_root trixie "$@"; }

# zdref_in_build CMD...: CMD where the modules of the kernel last named
# by zdref_kernel are built: on the host, or in its build root.  Paths in
# CMD are the build's view (K_TOP, K_KDIR).
zdref_in_build() {
	if [ "$K_BUILD" = host ]; then
		"$@"
	else
		zdref_in_root "$K_BUILD" "$@"
	fi
}

# zdref_source_name: the kernel whose source gives checkpatch.pl and
# hmm-tests: the newest of the matrix, its last line.
zdref_source_name() { zdref_kernels | tail -n 1; }

# zdref_unpack_source [NAME]: Debian's linux-source of kernel NAME (the
# newest by default), fetched by scripts/setup --source (or --kunit) to
# $ZDREF_CACHE/source/NAME and unpacked once per source version under
# $ZDREF_CACHE/kunit/src, where zdref_in_trixie sees it as /kunit/src.
# Builds from it go to directories of their own and leave it pristine.
# Sets SRC_NAME (linux-source-X.Y), SRC (its path on the host) and
# SRC_VERSION (the Debian package version).
zdref_unpack_source() {
	local name=${1:-$(zdref_source_name)} tarball ver dir cache=$ZDREF_CACHE/kunit/src
	dir=$ZDREF_CACHE/source/$name
	tarball=$(find "$dir" -maxdepth 1 -name 'linux-source-*.tar.xz' 2>/dev/null | head -n 1)
	[ -n "$tarball" ] && [ -f "$dir/.zdref-stamp" ] ||
		zdref_die "no source of kernel $name in $dir: run scripts/setup --source (the newest kernel's) or --kunit (the debug kernels')"
	ver=$(cat "$dir/.zdref-stamp")
	SRC_NAME=$(basename "$tarball" .tar.xz)
	SRC=$cache/$SRC_NAME
	if [ "$(cat "$SRC/.zdref-stamp" 2>/dev/null)" != "$ver" ]; then
		zdref_log "unpacking $SRC_NAME ($ver)"
		rm -rf "$SRC"
		mkdir -p "$cache"
		tar -xJf "$tarball" -C "$cache"
		echo "$ver" >"$SRC/.zdref-stamp"
	fi
	SRC_VERSION=$ver
}

# A test script's TAP stream: zdref_tap_init, then one zdref_tap per test
# (or zdref_tap_relay for the tests of a guest or another script), then
# zdref_tap_plan.  The script's $n numbers the tests; $passed, $skipped
# and $failures count them; $failed_names holds "N NAME" of each failure,
# and $failed_why, at the same index, the last comment lines relayed
# before it (what its assertion said), for a summary that CI's tail shows.
zdref_tap_init() {
	n=0 passed=0 skipped=0 failures=0
	failed_names=() failed_why=() tap_said=()
}

# How many of a failure's comment lines $failed_why keeps.
ZDREF_TAP_WHY_LINES=4

# zdref_tap_said LINE...: comment lines the next test result may be
# failed for; only the last few are kept.
zdref_tap_said() {
	tap_said+=("$@")
	[ "${#tap_said[@]}" -le $((4 * ZDREF_TAP_WHY_LINES)) ] ||
		mapfile -t tap_said < <(zdref_tap_said_last)
}

# zdref_tap_said_last: the last of those lines, one a line.  (A negative
# offset past the start of an array would expand to nothing.)
zdref_tap_said_last() {
	local from=$((${#tap_said[@]} - ZDREF_TAP_WHY_LINES))
	[ "${#tap_said[@]}" -gt 0 ] || return 0
	printf '%s\n' "${tap_said[@]:$((from > 0 ? from : 0))}"
}

# zdref_tap ok|fail|skip NAME [REASON]: one TAP line.
zdref_tap() {
	n=$((n + 1))
	case "$1" in
	ok) passed=$((passed + 1)); echo "ok $n $2" ;;
	skip) skipped=$((skipped + 1)); echo "ok $n $2 # SKIP $3" ;;
	*)
		failures=$((failures + 1))
		failed_names+=("$n $2")
		failed_why+=("$(zdref_tap_said_last)")
		echo "not ok $n $2" ;;
	esac
	tap_said=()
}

# zdref_tap_plan: the plan line; exit status 0 when nothing failed.
zdref_tap_plan() {
	echo "1..$n"
	[ "$failures" = 0 ]
}

# zdref_tap_check NAME CMD...: run CMD, show its output as comments, one
# TAP line for it; CMD's exit status.  (Debian's headers ship a vmlinux
# without .comment, which dkms 3.0.10 reads to spot clang: its readelf
# warnings about that are dropped.)
zdref_tap_check() {
	# (Bash's locals are seen by CMD: a name no caller's global has.)
	local _check_name=$1 _check_rc=0 _check_out
	shift
	_check_out=$("$@" 2>&1) || _check_rc=$?
	_check_out=$(grep -v "^readelf: Warning: Section '.comment' was not dumped" <<<"$_check_out" || true)
	[ -n "$_check_out" ] && sed 's/^/# /' <<<"$_check_out"
	if [ "$_check_rc" = 0 ]; then
		zdref_tap ok "$_check_name"
	else
		zdref_tap fail "$_check_name"
	fi
	return "$_check_rc"
}

# zdref_tap_relay PREFIX [HOOK] < TAP: the TAP lines read renumbered into
# this stream, their names prefixed with PREFIX; other lines become
# comments.  HOOK, a function, sees each line first, and returns 0 for a
# line it took.  The line "zdref-rc N" that zdref_tap_run ends with
# leaves N in $relay_rc.
zdref_tap_relay() {
	local prefix=$1 hook=${2:-} line name
	relay_rc=0
	while IFS= read -r line; do
		if [ -n "$hook" ] && "$hook" "$line"; then
			continue
		fi
		case "$line" in
		"ok "*"# SKIP"*)
			name=${line#ok }; name=${name#* }
			zdref_tap skip "$prefix${name%% # SKIP*}" "${name#* # SKIP }" ;;
		"ok "*) name=${line#ok }; zdref_tap ok "$prefix${name#* }" ;;
		"not ok "*) name=${line#not ok }; zdref_tap fail "$prefix${name#* }" ;;
		"zdref-rc "*) relay_rc=${line#zdref-rc } ;;
		"TAP version"*|1..*|"") ;;
		"#"*) echo "$line"; zdref_tap_said "$line" ;;
		*) echo "# $line"; zdref_tap_said "# $line" ;;
		esac
	done
}

# zdref_tap_run PREFIX HOOK CMD...: CMD's output, stdout and stderr,
# relayed by zdref_tap_relay PREFIX HOOK (HOOK may be ""); CMD's exit
# status in $relay_rc.
zdref_tap_run() {
	local prefix=$1 hook=$2
	shift 2
	# (The status is taken by ||: set -e would end the subshell first.)
	zdref_tap_relay "$prefix" "$hook" < <(
		rc=0
		"$@" 2>&1 || rc=$?
		printf '\nzdref-rc %s\n' "$rc"
	)
}

# zdref_tap_vm NAME RC BEFORE: the verdict on a boot whose scripts/vm
# exited RC, when $failures was BEFORE as it started: a boot that ended
# badly fails as the test NAME, and so does any other non-zero status
# with no failed test to show for it.
zdref_tap_vm() {
	case $2 in
	0) ;;
	124) zdref_tap fail "$1 (killed at the timeout)" ;;
	125) zdref_tap fail "$1 (the guest died: panic or oops)" ;;
	126) zdref_tap fail "$1 (the kernel warned: WARNING/BUG/KASAN... in the console)" ;;
	*) [ "$failures" != "$3" ] || zdref_tap fail "$1 (exited $2)" ;;
	esac
}

# zdref_carry DIR BIN...: the dynamic programs BIN (paths) copied to DIR,
# for a guest, with the libraries they link and the loader in DIR/lib.
# A guest runs one as DIR/lib/LOADER --library-path DIR/lib DIR/NAME;
# LOADER (ld-linux-x86-64.so.2 here) is printed.
zdref_carry() {
	local dir=$1 bin libs loader=
	shift
	mkdir -p "$dir/lib"
	for bin in "$@"; do
		[ -x "$bin" ] || zdref_die "zdref_carry: no program $bin"
		cp -L "$bin" "$dir/"
		libs=$(ldd "$bin") || zdref_die "zdref_carry: ldd $bin failed"
		awk '/=>/ { print $3 } /ld-linux/ { print $1 }' <<<"$libs" |
			xargs -r cp -L -t "$dir/lib/"
		loader=$(awk '/ld-linux/ { print $1 }' <<<"$libs")
	done
	basename "$loader"
}

# The guest command that runs every selftest of its directory (*_test),
# each announced and then timed from the guest's uptime, so that a slow
# boot's log says where its time went; it exits 1 if any failed.
# shellcheck disable=SC2016 # expanded in the guest
ZDREF_GUEST_SUITE='rc=0; for t in ./*_test; do echo "# $t"; s=$(cut -d. -f1 /proc/uptime); $t || rc=1; echo "# $t: $(($(cut -d. -f1 /proc/uptime) - s)) s"; done; exit $rc'

# zdref_machine_speed: the milliseconds this host takes for a fixed piece
# of work on one thread (half a million rounds of a shell loop), for
# check.log: the same run here has taken 1.5 times as long one hour as
# the next, and a log that says how fast the machine was explains it.
zdref_machine_speed() {
	local i=0 s
	s=$(date +%s%N)
	while [ $i -lt 500000 ]; do i=$((i + 1)); done
	echo $((($(date +%s%N) - s) / 1000000))
}

# zdref_sq STRING: STRING single-quoted for a shell.
zdref_sq() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# zdref_copy_tree DIR [RSYNC-OPTION...]: what a build of zdref reads (the
# Makefile's BUILD_FILES: the module's sources, its KUnit suites, the
# probes and scripts/probe) copied to DIR, which then builds as the top
# of the tree does: kbuild writes its objects beside the sources.
zdref_copy_tree() {
	local dir=$1 files
	shift
	files=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -s --no-print-directory -C "$ZDREF_TOP" build-files) ||
		zdref_die "make build-files failed in $ZDREF_TOP"
	mkdir -p "$dir"
	# -R: each path as it is under the top (scripts/probe in scripts/).
	(cd "$ZDREF_TOP" && rsync -aR --delete --exclude '*.log' "$@" $files "$dir"/)
}

# The qemu that boots guests, and the KVM device it would use
# (overridable, for scripts/accel-test's fake qemu).
ZDREF_QEMU=${ZDREF_QEMU:-qemu-system-x86_64}
ZDREF_KVM_DEV=${ZDREF_KVM_DEV:-/dev/kvm}

# zdref_accel IMAGE: the accelerator for booting IMAGE here, as qemu
# options in ZDREF_ACCEL_ARGS and a name (kvm, tcg) in ZDREF_ACCEL_NAME;
# why, in ZDREF_ACCEL_WHY.
#
# A /dev/kvm proves nothing: a PVM host has one and runs no stock kernel
# (qemu aborts on MSR 0x10a, or the guest hangs after "Probing EDD").  KVM
# is used only after a trial boot of IMAGE under it reached the trial
# initramfs's init within ZDREF_ACCEL_DEADLINE seconds (15); otherwise
# TCG, which always works.  The verdict is cached for this boot of the
# machine and this qemu (boot_id, qemu --version), so a suite pays for the
# trial once.  ZDREF_ACCEL=kvm or tcg forces a choice; a forced kvm that
# fails its trial is an error.  Under TCG the two vCPUs share one host
# thread by default: with multi-threaded TCG, Debian's 7.3 oopsed on an
# int3 left by text_poke_bp in 1 boot of 10 (a vCPU running stale code
# after a static key flip), never with thread=single;
# ZDREF_TCG_OPTS=",thread=multi" overrides.  TCG's CPU has no LA57: with
# 5-level paging, identify_cpu() clears boot_cpu_data's capabilities and
# reads CPUID again with interrupts on; a timer interrupt in that window
# sees pgtable_l5_enabled() false, and KASAN's addr_has_metadata() then
# calls the direct map's 0xff11... addresses wild (a false
# "wild-memory-access" in do_raw_spin_lock from handle_edge_irq, seen on
# the debug kernel under load).  Without LA57 the bit never lies.
# ZDREF_TCG_CPU=max puts LA57 back (to see that report again).
zdref_accel() {
	local image=$1 want=${ZDREF_ACCEL:-auto} dir=$ZDREF_CACHE/accel file boot verdict why
	case "$want" in
	auto|kvm|tcg) ;;
	*) zdref_die "ZDREF_ACCEL=$want: use kvm, tcg, or leave it unset (a trial boot decides)" ;;
	esac
	verdict=tcg
	if [ "$want" = tcg ]; then
		why="ZDREF_ACCEL=tcg"
	elif ! [ -c "$ZDREF_KVM_DEV" ] && ! [ -f "$ZDREF_KVM_DEV" ] || ! [ -w "$ZDREF_KVM_DEV" ]; then
		why="no usable $ZDREF_KVM_DEV"
	else
		# One verdict file per qemu (path and version), valid for this
		# boot of the machine: boot_id, verdict, why.
		mkdir -p "$dir"
		file=$dir/verdict.$(printf '%s %s' "$(command -v "$ZDREF_QEMU")" \
			"$("$ZDREF_QEMU" --version 2>/dev/null | head -n 1)" | sha256sum | cut -c1-12)
		boot=$(cat /proc/sys/kernel/random/boot_id)
		if [ "$(sed -n 1p "$file" 2>/dev/null)" = "$boot" ]; then
			verdict=$(sed -n 2p "$file")
			why="$(sed -n 3p "$file") (cached for this boot: $file)"
		else
			zdref_accel_trial "$image"
			verdict=$ZDREF_ACCEL_NAME why=$ZDREF_ACCEL_WHY
			printf '%s\n%s\n%s\n' "$boot" "$verdict" "$why" >"$file"
		fi
	fi
	if [ "$want" = kvm ] && [ "$verdict" != kvm ]; then
		zdref_die "ZDREF_ACCEL=kvm, but kvm cannot run this guest here: $why"
	fi
	ZDREF_ACCEL_NAME=$verdict ZDREF_ACCEL_WHY=$why
	if [ "$verdict" = kvm ]; then
		ZDREF_ACCEL_ARGS=(-accel kvm -cpu host)
	else
		ZDREF_ACCEL_ARGS=(-accel "tcg${ZDREF_TCG_OPTS-,thread=single}" -cpu "${ZDREF_TCG_CPU:-max,la57=off}")
	fi
}

# zdref_accel_trial IMAGE: boot IMAGE under KVM with an initramfs whose
# init prints a marker and powers off; ZDREF_ACCEL_NAME is kvm if the
# marker came in time, tcg otherwise, ZDREF_ACCEL_WHY says what was seen.
zdref_accel_trial() {
	local dir=$ZDREF_CACHE/accel deadline=${ZDREF_ACCEL_DEADLINE:-15} stage rc=0 t0=$SECONDS last
	stage=$dir/trial-initramfs
	rm -rf "$stage"
	mkdir -p "$stage/bin"
	cp /bin/busybox "$stage/bin/busybox" || zdref_die "no /bin/busybox (busybox-static): run scripts/setup"
	ln -s busybox "$stage/bin/sh"
	printf '#!/bin/sh\necho zdref-accel-trial-ok\n/bin/busybox poweroff -f\n' >"$stage/init"
	chmod +x "$stage/init"
	(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$dir/trial.cpio.gz"
	: >"$dir/trial.console"
	# (The braces keep bash's "Killed" note about a guest killed at the
	# deadline off the terminal: qemu's own output is in trial.qemu.)
	{ timeout -s KILL "$deadline" "$ZDREF_QEMU" -accel kvm -cpu host -m 1G -smp 2 \
		-nodefaults -display none -no-reboot -kernel "$1" -initrd "$dir/trial.cpio.gz" \
		-append "console=ttyS0 panic=-1" -serial "file:$dir/trial.console" \
		</dev/null >"$dir/trial.qemu" 2>&1; } 2>/dev/null || rc=$?
	if grep -q zdref-accel-trial-ok "$dir/trial.console"; then
		ZDREF_ACCEL_NAME=kvm
		ZDREF_ACCEL_WHY="a trial boot under kvm reached init in $((SECONDS - t0)) s"
		return
	fi
	ZDREF_ACCEL_NAME=tcg
	# (Callers run under set -e and pipefail: a console or a qemu
	# that said nothing must not end them here.)
	if [ "$rc" = 137 ]; then
		last=$(tr -d '\r' <"$dir/trial.console" | grep . | tail -n 1 || true)
		ZDREF_ACCEL_WHY="a trial boot under kvm gave no sign of init in ${deadline} s; its last console line: '${last:-none}'"
		last=$(grep . "$dir/trial.qemu" | head -n 1 || true)
		[ -z "$last" ] || ZDREF_ACCEL_WHY="$ZDREF_ACCEL_WHY; qemu said: '$last'"
	else
		last=$(grep . "$dir/trial.qemu" | head -n 1 || true)
		ZDREF_ACCEL_WHY="a trial boot under kvm ended (qemu exit $rc) before init: '${last:-no message}'"
	fi
	ZDREF_ACCEL_WHY="$ZDREF_KVM_DEV is present but cannot run this guest ($ZDREF_ACCEL_WHY)"
}
