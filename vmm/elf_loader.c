#include "elf_loader.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/guest_abi.h"
#include "../common/layout.h"

static int reject(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -ENOEXEC;
}

/* Walks the notes of one PT_NOTE segment (already checked to lie inside
 * the file) for the CompSC bindings note; malformed notes are ignored. */
static void read_bindings_note(const uint8_t *p, uint64_t len, uint32_t *bindings)
{
	static const char name[] = CSC_NOTE_NAME;

	while (len >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, p, sizeof(nh));
		uint64_t name_sz = ((uint64_t)nh.n_namesz + 3) & ~3ull, desc_sz = ((uint64_t)nh.n_descsz + 3) & ~3ull;
		uint64_t total = sizeof(nh) + name_sz + desc_sz;
		if (total > len)
			return;
		if (nh.n_type == CSC_NOTE_BINDINGS && nh.n_namesz == sizeof(name) && nh.n_descsz == 4 &&
		    memcmp(p + sizeof(nh), name, sizeof(name)) == 0) {
			uint32_t mask;
			memcpy(&mask, p + sizeof(nh) + name_sz, 4);
			*bindings = mask;
			return;
		}
		p += total;
		len -= total;
	}
}

int elf_parse(const uint8_t *file, size_t size, uint64_t ram_size, struct elf_image *img,
	      char *err, size_t err_len)
{
	Elf64_Ehdr eh;
	bool entry_ok = false;

	memset(img, 0, sizeof(*img));
	if (size < SELFMAG || memcmp(file, ELFMAG, SELFMAG) != 0)
		return reject(err, err_len, "not an ELF file (bad magic)");
	if (size < EI_NIDENT)
		return reject(err, err_len, "truncated ELF file: %zu bytes, identification needs %d",
			      size, EI_NIDENT);
	if (file[EI_CLASS] != ELFCLASS64)
		return reject(err, err_len, "not a 64-bit ELF file (class %u)", file[EI_CLASS]);
	if (file[EI_DATA] != ELFDATA2LSB)
		return reject(err, err_len, "not a little-endian ELF file");
	if (size < sizeof(eh))
		return reject(err, err_len, "truncated ELF file: %zu bytes, header needs %zu", size,
			      sizeof(eh));
	memcpy(&eh, file, sizeof(eh));
	if (eh.e_machine != EM_X86_64)
		return reject(err, err_len, "not an x86-64 ELF file (machine %u)", eh.e_machine);
	if (eh.e_type != ET_EXEC)
		return reject(err, err_len, "not an executable ELF file (type %u; PIE and .o are not supported)",
			      eh.e_type);
	if (eh.e_phentsize != sizeof(Elf64_Phdr))
		return reject(err, err_len, "unexpected program header size %u", eh.e_phentsize);
	if (eh.e_phnum == 0)
		return reject(err, err_len, "no program headers");
	if (eh.e_phoff > size || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > size - eh.e_phoff)
		return reject(err, err_len, "truncated ELF file: program headers end past byte %zu", size);

	img->entry = eh.e_entry;
	img->lowest_gpa = UINT64_MAX;
	img->bindings = CSC_BINDING_KVM;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, file + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_NOTE && ph.p_offset <= size && ph.p_filesz <= size - ph.p_offset)
			read_bindings_note(file + ph.p_offset, ph.p_filesz, &img->bindings);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (img->n_segments == ELF_MAX_SEGMENTS)
			return reject(err, err_len, "more than %d loadable segments", ELF_MAX_SEGMENTS);
		if (ph.p_filesz > ph.p_memsz)
			return reject(err, err_len, "segment %u: file size 0x%llx exceeds memory size 0x%llx",
				      i, (unsigned long long)ph.p_filesz, (unsigned long long)ph.p_memsz);
		if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
			return reject(err, err_len, "truncated ELF file: segment %u needs bytes up to 0x%llx, file has 0x%zx",
				      i, (unsigned long long)(ph.p_offset + ph.p_filesz), size);
		uint64_t gpa = ph.p_paddr, end = gpa + ph.p_memsz;
		if (end < gpa || end > ram_size)
			return reject(err, err_len, "segment %u [0x%llx, 0x%llx) lies outside guest memory (0x%llx bytes)",
				      i, (unsigned long long)gpa, (unsigned long long)end,
				      (unsigned long long)ram_size);
		if (gpa < CSC_IMAGE_MIN_GPA)
			return reject(err, err_len, "segment %u at 0x%llx overlaps the boot-information area [0, 0x%llx)",
				      i, (unsigned long long)gpa, (unsigned long long)CSC_IMAGE_MIN_GPA);
		for (unsigned j = 0; j < img->n_segments; j++) {
			const struct elf_segment *o = &img->seg[j];
			if (gpa < o->gpa + o->mem_size && o->gpa < end)
				return reject(err, err_len, "segment %u overlaps another segment at 0x%llx",
					      i, (unsigned long long)o->gpa);
		}
		img->seg[img->n_segments++] = (struct elf_segment){
			.gpa = gpa, .file_offset = ph.p_offset, .file_size = ph.p_filesz,
			.mem_size = ph.p_memsz, .flags = ph.p_flags,
		};
		if (gpa < img->lowest_gpa)
			img->lowest_gpa = gpa;
		if (end > img->highest_gpa)
			img->highest_gpa = end;
		/* The VMM identity-maps guest memory, so virtual == physical:
		 * the entry point must be inside an executable segment. */
		if ((ph.p_flags & PF_X) && eh.e_entry >= ph.p_vaddr && eh.e_entry < ph.p_vaddr + ph.p_memsz)
			entry_ok = ph.p_vaddr == ph.p_paddr;
	}
	if (img->n_segments == 0)
		return reject(err, err_len, "no loadable segments");
	if (!entry_ok)
		return reject(err, err_len, "entry point 0x%llx is not inside an identity-mapped executable segment",
			      (unsigned long long)eh.e_entry);
	return 0;
}

void elf_copy(const struct elf_image *img, const uint8_t *file, uint8_t *ram)
{
	for (unsigned i = 0; i < img->n_segments; i++) {
		const struct elf_segment *s = &img->seg[i];
		memcpy(ram + s->gpa, file + s->file_offset, s->file_size);
		memset(ram + s->gpa + s->file_size, 0, s->mem_size - s->file_size);
	}
}

int elf_read_file(const char *path, uint8_t **data, size_t *size, char *err, size_t err_len)
{
	struct stat st;
	int fd, ret = 0;
	uint8_t *buf;
	size_t done = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "%s is not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_size > (off_t)CSC_RAM_MAX) {
		snprintf(err, err_len, "%s is too large for a guest image (%lld bytes)", path,
			 (long long)st.st_size);
		close(fd);
		return -EFBIG;
	}
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf) {
		close(fd);
		snprintf(err, err_len, "out of memory reading %s", path);
		return -ENOMEM;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, st.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			snprintf(err, err_len, "cannot read %s: %s", path, n < 0 ? strerror(errno) : "short read");
			free(buf);
			close(fd);
			return ret;
		}
		done += n;
	}
	close(fd);
	*data = buf;
	*size = done;
	return 0;
}
