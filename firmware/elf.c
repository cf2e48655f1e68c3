/* elf.c: loading an uncompressed ELF vmlinux, entered through its PVH note when it has one
 * (Xen's XEN_ELFNOTE_PHYS32_ENTRY, which Linux emits with CONFIG_PVH), else at e_entry with
 * the 64-bit boot protocol. */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "firmware/kernel_image.h"
#include "firmware/layout.h"
#include "vmm/log.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

bool elf_detect(const uint8_t *img, size_t len)
{
	return len >= SELFMAG && !memcmp(img, ELFMAG, SELFMAG);
}

/* Looks through one PT_NOTE segment for Xen's PHYS32_ENTRY; returns 1 and sets *entry if found. */
static int elf_find_pvh(const uint8_t *p, uint64_t size, uint64_t *entry)
{
	uint64_t off = 0;

	while (size - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr n;
		memcpy(&n, p + off, sizeof(n));
		uint64_t name = off + sizeof(n);
		uint64_t desc = name + (((uint64_t)n.n_namesz + 3) & ~3ULL);
		uint64_t next = desc + (((uint64_t)n.n_descsz + 3) & ~3ULL);
		if (next > size)
			return 0;
		if (n.n_namesz == 4 && !memcmp(p + name, "Xen", 4) &&
		    n.n_type == XEN_ELFNOTE_PHYS32_ENTRY) {
			/* Linux writes it with _ASM_PTR: 8 bytes on x86-64, 4 from a 32-bit build. */
			if (n.n_descsz == 8) {
				memcpy(entry, p + desc, 8);
				return 1;
			}
			if (n.n_descsz == 4) {
				uint32_t e;
				memcpy(&e, p + desc, 4);
				*entry = e;
				return 1;
			}
		}
		off = next;
	}
	return 0;
}

int elf_load(struct guest_mem *m, const char *path, const uint8_t *img, size_t len,
	     struct kernel_image *k)
{
	Elf64_Ehdr eh;

	memset(k, 0, sizeof(*k));
	if (len < sizeof(eh)) {
		log_err("kernel %s: truncated ELF header", path);
		return -EINVAL;
	}
	memcpy(&eh, img, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64 || eh.e_type != ET_EXEC) {
		log_err("kernel %s: not an x86-64 executable ELF", path);
		return -EINVAL;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff) {
		log_err("kernel %s: bad ELF program header table", path);
		return -EINVAL;
	}

	uint64_t lo = UINT64_MAX, hi = 0, pvh_entry = 0;
	bool pvh = false;
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
			log_err("kernel %s: ELF segment %d lies outside the file", path, i);
			return -EINVAL;
		}
		if (ph.p_type == PT_NOTE) {
			if (!pvh)
				pvh = elf_find_pvh(img + ph.p_offset, ph.p_filesz, &pvh_entry);
			continue;
		}
		if (ph.p_filesz > ph.p_memsz) {
			log_err("kernel %s: ELF segment %d has filesz > memsz", path, i);
			return -EINVAL;
		}
		/* Below 1 MiB live the boot structures and firmware tables. */
		if (ph.p_paddr < LAYOUT_KERNEL) {
			log_err("kernel %s: ELF segment %d at %#llx is below 1 MiB", path, i,
				(unsigned long long)ph.p_paddr);
			return -EINVAL;
		}
		uint8_t *dst = guest_ptr(m, ph.p_paddr, ph.p_memsz);
		if (!dst) {
			log_err("kernel %s: ELF segment %d at %#llx (%llu bytes) does not fit in guest RAM",
				path, i, (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_memsz);
			return -E2BIG;
		}
		memcpy(dst, img + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr < lo)
			lo = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > hi)
			hi = ph.p_paddr + ph.p_memsz;
	}
	if (hi == 0) {
		log_err("kernel %s: ELF has no loadable segment", path);
		return -EINVAL;
	}

	k->pvh = pvh;
	/* vmlinux.lds.S sets ENTRY(phys_startup_64): e_entry is already physical. */
	k->entry = pvh ? pvh_entry : eh.e_entry;
	k->load_addr = lo;
	k->end = hi;
	/* No setup header to ask: use the limit every 64-bit kernel's header states. */
	k->initrd_max = 0x7fffffff;
	k->cmdline_max = LAYOUT_CMDLINE_MAX - 1;
	return 0;
}
