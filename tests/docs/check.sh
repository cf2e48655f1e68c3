#!/usr/bin/env bash
# `make check-docs` (part of `make test`): the user-facing documents against the code.
#   - `make install DESTDIR=... PREFIX=...` installs bin/minivmm and share/man/man1/minivmm.1;
#   - `man -l` renders the installed page without a warning;
#   - every option in `minivmm --help` is in the man page's OPTIONS and README's option table,
#     and each of those lists no option --help lacks; the same for the --net kinds;
#   - README's quick-start commands are make targets, and the one CI runs (.ci/run) is one of
#     them; README's "your own kernel" command is the one tests/e2e/scenarios/15-own-kernel.sh
#     runs; every repository path README.md and HACKING.md name is in the repository (a fresh
#     clone has it);
#   - tools/run.sh adds a default --kernel/--initrd only when none is given.
# Prints "PASS: name" / "FAIL: name why" lines; exits 1 if anything failed.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cd "$src"
build=${BUILD:-$src/build}
vmm=$build/minivmm
fails=0
pass() { echo "PASS: $1"; }
fail() {
	echo "FAIL: $1 $2"
	fails=$((fails + 1))
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. make install
if make -s --no-print-directory install BUILD="$build" DESTDIR="$tmp/root" PREFIX=/usr/local >"$tmp/install.log" 2>&1 &&
	[ -x "$tmp/root/usr/local/bin/minivmm" ] && [ -f "$tmp/root/usr/local/share/man/man1/minivmm.1" ]; then
	pass docs_make_install_installs_binary_and_man_page
else
	fail docs_make_install_installs_binary_and_man_page "$(ls -R "$tmp/root" 2>&1 | tr '\n' ' ') $(tail -n 3 "$tmp/install.log")"
fi
page=$tmp/root/usr/local/share/man/man1/minivmm.1
[ -f "$page" ] || page=doc/minivmm.1

# 2. man renders without warnings
warn=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
if [ -z "$warn" ] && MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q '^EXIT STATUS'; then
	pass docs_man_page_renders_without_warnings
else
	fail docs_man_page_renders_without_warnings "${warn:-no EXIT STATUS section rendered}"
fi

# 3. options: --help, the man page's OPTIONS section, README's option table
help_opts=$("$vmm" --help | sed -n 's/^  \(--[a-z-]*\).*/\1/p' | sort -u)
# The tag line after each .TP in OPTIONS, not options mentioned in the text.
man_opts=$(awk '/^\.SH / { o = ($0 == ".SH OPTIONS") } o && t { print } { t = ($0 == ".TP") }' doc/minivmm.1 | sed -n 's/^\.B[IR]\{0,1\} "\{0,1\}\(\\-\\-[a-z]\+\(\\-[a-z]\+\)*\).*/\1/p' |
	sed 's/\\-/-/g' | sort -u)
readme_opts=$(sed -n 's/^| `\(--[a-z-]*\)[ `].*/\1/p' README.md | sort -u)
same() { # NAME A B: the two lists hold the same options
	local d
	d=$(diff <(echo "$2") <(echo "$3") | sed -n 's/^\([<>]\) /\1/p' | tr '\n' ' ')
	if [ -n "$2" ] && [ -z "$d" ]; then pass "$1"; else fail "$1" "differ (< --help, > doc): ${d:-both empty}"; fi
}
same docs_help_options_match_man_page "$help_opts" "$man_opts"
same docs_help_options_match_readme_table "$help_opts" "$readme_opts"
help_nets=$("$vmm" --help | sed -n 's/^      \(tap\|user\|none\)\b.*/\1/p' | sort -u)
man_nets=$(sed -n '/^\.SH NETWORKING/,/^\.SH /p' doc/minivmm.1 | sed -n 's/^\.BR\{0,1\} \(tap\|user\|none\)\b.*/\1/p' | sort -u)
readme_nets=$(sed -n 's/^| `\(tap\|user\|none\)\b.*/\1/p' README.md | sort -u)
same docs_net_kinds_match_man_page "$help_nets" "$man_nets"
same docs_net_kinds_match_readme "$help_nets" "$readme_nets"

# 4. README's commands are the tested ones
quick=$(sed -n '/^## Two commands/,/^## /p' README.md | sed -n '/^```/,/^```/p' |
	sed -n 's/^\(sudo \)\{0,1\}make \([a-z-]*\).*/\2/p')
ci=$(sed -n 's/^exec make \([a-z-]*\).*/\1/p' .ci/run)
bad=''
for t in $quick; do grep -q "^$t:" Makefile || bad+=" $t"; done
if [ -n "$quick" ] && [ -z "$bad" ] && [ -n "$ci" ] && grep -qx "$ci" <<<"$quick"; then
	pass docs_readme_quick_start_is_what_ci_runs
else
	fail docs_readme_quick_start_is_what_ci_runs "README: '$(echo $quick)', not make targets: '$bad', .ci/run: 'make $ci'"
fi
own=$(grep -m1 -E '^guest/build\.sh --kernel .+ --modules .+' README.md)
# 15-own-kernel boots what tests/e2e/own-kernel.sh wrapped (on this machine, before the test host).
if [ -n "$own" ] && grep -q 'guest/build.sh" --kernel "[^"]*" --modules' tests/e2e/own-kernel.sh; then
	pass docs_readme_own_kernel_command_is_the_tested_one
else
	fail docs_readme_own_kernel_command_is_the_tested_one "README: '${own:-none}'; tests/e2e/own-kernel.sh runs another"
fi
missing=''
tracked=$(git ls-files 2>/dev/null)
for doc in README.md HACKING.md; do
	# `path/file.ext` and [text](path) references to files with a directory part, and any ../path.
	for p in $(grep -oE '`[A-Za-z0-9_.][A-Za-z0-9_./-]*/[A-Za-z0-9_.-]+\.(sh|md|c|h|1|txt)`|\]\([^)#:]+\)|\.\./[A-Za-z0-9_./-]*[A-Za-z0-9_]' "$doc" |
		sed 's/^`//; s/`$//; s/^](//; s/)$//' | sort -u); do
		p=${p#./}
		# Paths into the tree (its top-level directories) or out of it (../); build/ outputs
		# and install paths are neither.
		case $p in ../*) ;; *) [ -n "$(grep -m1 "^${p%%/*}/" <<<"$tracked")" ] || continue ;; esac
		grep -qx -- "$p" <<<"$tracked" || missing+=" $doc:$p"
	done
done
if [ -z "$missing" ]; then pass docs_named_files_are_in_the_repository; else fail docs_named_files_are_in_the_repository "$missing"; fi

# 5. tools/run.sh: defaults only for what is not given
args=$(RUN_DRY=1 tools/run.sh --kernel /x/vmlinuz --initrd=/x/initrd --cpus 2 2>/dev/null | tail -n +2 | tr '\n' ' ')
if [ "$args" = "--append console=ttyS0 reboot=k panic=-1 --kernel /x/vmlinuz --initrd=/x/initrd --cpus 2 " ]; then
	pass docs_run_takes_any_option_kernel_included
else
	fail docs_run_takes_any_option_kernel_included "minivmm would get: $args"
fi

echo "docs: $fails failed"
exit $((fails > 0))
