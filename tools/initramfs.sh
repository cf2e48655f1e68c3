# shellcheck shell=bash
# Shared helpers for building a kernel + initramfs from Debian packages (sourced, not run):
# used by guest/build.sh (the test guest) and tests/e2e/testhost.sh (the nested test host).
#
#   kpkg_fetch META DEBDIR OUTROOT  download META's real linux-image package into DEBDIR (kept
#                                   as a cache), extract it to OUTROOT, run depmod there;
#                                   sets KVER and KPKG (package file name)
#   kpkg_version META               the linux-image-X package META depends on, and its version
#   kernel_extract_elf BZIMAGE OUT  the uncompressed vmlinux ELF inside a bzImage (xz, zstd, gzip
#                                   or lz4 payload); returns 1 if none is found
#   initramfs_skeleton DIR          empty tree with busybox and its applets in /bin
#   initramfs_add_modules DIR KROOT MOD...  copy MOD and its dependencies (from modules.dep),
#                                   decompressed, and append them to /lib/modules/load.order in
#                                   load order (dependencies first); KROOT is an extracted
#                                   package (KROOT/lib/modules/VER) or a modules directory itself;
#                                   modules built into the kernel (modules.builtin) are skipped
#   initramfs_add_bin DIR PATH...   copy binaries with the shared libraries ldd reports
#   initramfs_pack DIR OUT          cpio newc, owned by root, gzip
#   inputs_hash FILE...             one hash over the contents of files (and directory trees)
#   build_stamp META FILE...        what a kernel + initramfs build depends on, as one hash:
#                                   META's kernel package and version, and the FILEs' contents
#   build_is_current DIR STAMP      DIR holds vmlinuz and initrd.img from a build whose stamp
#                                   (as build_mark_current left it) is STAMP
#   build_mark_current DIR STAMP    records STAMP for DIR: the build's last step
#   kernel_install META DEBDIR KROOT OUT  kpkg_fetch META into KROOT, then OUT/vmlinuz and, when
#                                   one is found inside, OUT/vmlinux (the uncompressed ELF)

# The package META (e.g. linux-image-cloud-amd64) depends on: linux-image-6.1.0-NN-cloud-amd64.
kpkg_real() {
	apt-cache depends --no-recommends --no-suggests "$1" 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

kpkg_version() {
	local real
	real=$(kpkg_real "$1")
	[ -n "$real" ] || { echo "kpkg: cannot resolve $1 (apt-get update?)" >&2; return 1; }
	echo "$real $(apt-cache policy "$real" | awk '/Candidate:/ { print $2 }')"
}

kpkg_fetch() {
	local meta=$1 debdir=$2 root=$3 real deb
	real=$(kpkg_real "$meta")
	[ -n "$real" ] || { echo "kpkg: cannot resolve $meta (apt-get update?)" >&2; return 1; }
	mkdir -p "$debdir"
	deb=$(ls "$debdir"/"${real}"_*.deb 2>/dev/null | tail -n1 || true)
	if [ -z "$deb" ]; then
		# apt's sandbox user cannot write into build/, so download into a temp dir it may use.
		local tmp
		tmp=$(mktemp -d)
		chmod 777 "$tmp"
		(cd "$tmp" && apt-get download -q "$real" >&2)
		mv "$tmp"/*.deb "$debdir"/
		rmdir "$tmp"
		deb=$(ls "$debdir"/"${real}"_*.deb | tail -n1)
	fi
	rm -rf "$root"
	mkdir -p "$root"
	dpkg-deb -x "$deb" "$root"
	KVER=${real#linux-image-}
	# shellcheck disable=SC2034 # for the caller
	KPKG=$(basename "$deb")
	depmod -b "$root" "$KVER"
}

# QEMU boots an ELF vmlinux through PVH with no decompression step, which under TCG saves seconds
# a boot. The payload is the first compressed stream whose output is an ELF file.
kernel_extract_elf() {
	local bz=$1 out=$2 magic dec off
	for magic in '\xfd7zXZ\x00:xz -dcq' '\x28\xb5\x2f\xfd:zstd -dcq' '\x1f\x8b\x08:gzip -dcq' \
		'\x02\x21\x4c\x18:lz4 -dcq'; do
		dec=${magic#*:}
		for off in $(LC_ALL=C grep -obUaP "${magic%%:*}" "$bz" | cut -d: -f1); do
			tail -c +$((off + 1)) "$bz" | $dec >"$out.tmp" 2>/dev/null || true
			if [ "$(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
				mv "$out.tmp" "$out"
				return 0
			fi
		done
	done
	rm -f "$out.tmp"
	return 1
}

initramfs_skeleton() {
	local dir=$1 a
	rm -rf "$dir"
	mkdir -p "$dir"/{bin,dev,proc,sys,tmp,run,etc,root,lib/modules,usr/bin,usr/sbin,mnt}
	cp /bin/busybox "$dir/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
	done
	ln -s bin "$dir/sbin"
	# The kernel needs a console before /dev is mounted to print init's first lines.
	mknod -m 600 "$dir/dev/console" c 5 1
}

# Modules are named as modinfo does: '-' and '_' are the same.
kmod_norm() { echo "${1//-/_}"; }

initramfs_add_modules() {
	local dir=$1 kroot=$2
	shift 2
	local mdir dep
	if [ -f "$kroot/modules.dep" ]; then
		mdir=$kroot
	else
		mdir=$(echo "$kroot"/lib/modules/*)
	fi
	dep="$mdir/modules.dep"
	local -A done_mods=()
	if [ -f "$dir/lib/modules/load.order" ]; then
		local m
		while read -r m; do done_mods[$(kmod_norm "${m%.ko}")]=1; done <"$dir/lib/modules/load.order"
	fi
	_kmod_add() {
		local name line path deps d base
		name=$(kmod_norm "$1")
		[ -z "${done_mods[$name]:-}" ] || return 0
		line=$(awk -F: -v n="$name" '{
			b = $1; sub(/.*\//, "", b); sub(/\.ko(\.xz|\.zst|\.gz)?$/, "", b); gsub(/-/, "_", b)
			if (b == n) { print; exit }
		}' "$dep")
		if [ -z "$line" ]; then
			if grep -qE "/${1//_/[-_]}\.ko" "$mdir/modules.builtin"; then
				return 0 # built in: nothing to load
			fi
			echo "initramfs: module $1 not found in $dep" >&2
			return 1
		fi
		path=${line%%:*}
		deps=${line#*:}
		for d in $deps; do
			base=${d##*/}
			_kmod_add "${base%%.ko*}" || return 1
		done
		base=${path##*/}
		case "$base" in
		*.ko.xz) xz -dc "$mdir/$path" >"$dir/lib/modules/${base%.xz}" ;;
		*.ko.zst) zstd -qdc "$mdir/$path" >"$dir/lib/modules/${base%.zst}" ;;
		*.ko.gz) gzip -dc "$mdir/$path" >"$dir/lib/modules/${base%.gz}" ;;
		*) cp "$mdir/$path" "$dir/lib/modules/$base" ;;
		esac
		echo "${base%%.ko*}.ko" >>"$dir/lib/modules/load.order"
		done_mods[$name]=1
	}
	local m
	for m in "$@"; do _kmod_add "$m"; done
}

initramfs_add_bin() {
	local dir=$1 f lib
	shift
	for f in "$@"; do
		mkdir -p "$dir/$(dirname "$f")"
		cp -L "$f" "$dir/$f"
		for lib in $(ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^[ \t]*\// { print $1 }'); do
			[ -e "$dir/$lib" ] && continue
			mkdir -p "$dir/$(dirname "$lib")"
			cp -L "$lib" "$dir/$lib"
		done
	done
}

initramfs_pack() {
	local dir=$1 out=$2
	(cd "$dir" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -1 >"$out.tmp"
	mv "$out.tmp" "$out"
}

inputs_hash() {
	local f
	for f in "$@"; do
		if [ -d "$f" ]; then
			find "$f" -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
		elif [ -e "$f" ]; then
			sha256sum "$f"
		else
			echo "missing $f"
		fi
	done | sha256sum | cut -d' ' -f1
}

build_stamp() {
	local meta=$1
	shift
	{
		kpkg_version "$meta"
		inputs_hash "$@"
	} | sha256sum | cut -d' ' -f1
}

build_is_current() {
	local dir=$1 stamp=$2
	[ -f "$dir/vmlinuz" ] && [ -f "$dir/initrd.img" ] &&
		[ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ]
}

build_mark_current() {
	echo "$2" >"$1/.stamp"
}

kernel_install() {
	local meta=$1 debdir=$2 kroot=$3 out=$4
	kpkg_fetch "$meta" "$debdir" "$kroot"
	cp "$kroot/boot/vmlinuz-$KVER" "$out/vmlinuz"
	# The same kernel as an ELF (PVH-bootable), for VMMs or QEMU runs that want to skip
	# decompression.
	kernel_extract_elf "$out/vmlinuz" "$out/vmlinux" || rm -f "$out/vmlinux"
}
