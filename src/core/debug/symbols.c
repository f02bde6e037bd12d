/* Symbolization for task backtraces, usable from a signal handler: finds the
 * loaded object holding an address (dl_iterate_phdr), maps its file and
 * looks the address up in its ELF symbol table (.symtab, which also names
 * static functions that dladdr cannot see, else .dynsym). Only system calls
 * and no allocation, so a SIGUSR1 dump can call it.
 *
 * The object is found with glibc's _dl_find_object (2.35), which is
 * lock-free and async-signal-safe: dl_iterate_phdr takes the dynamic
 * loader's lock, and a signal handler that interrupts any code holding or
 * taking that lock on its thread (a dlopen, a lazy binding, this very
 * lookup, the unwinder of an older libgcc) deadlocks. dl_iterate_phdr
 * remains only where _dl_find_object does not exist; there a nested lookup
 * gives the bare address (it deadlocked under a SIGUSR1 storm during
 * weft_dump_tasks), and a signal that interrupts foreign code holding the
 * lock can still hang, which is why glibc added the call. The file cache is shared by
 * all threads: whoever finds it busy (another thread's lookup, or a signal
 * that interrupted one) gets the object and offset without a function name
 * rather than wait. */
#define _GNU_SOURCE
#include "debug_int.h"
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char path[256];
    const unsigned char *map;
    size_t size;
    const Elf64_Sym *syms; /* NULL: no symbol table */
    size_t nsyms;
    const char *strs;
} symfile;

#define NFILES 16
static symfile files[NFILES];

static void load(symfile *f)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(Elf64_Ehdr)) {
        close(fd);
        return;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return;
    f->map = m;
    f->size = (size_t)st.st_size;
    const Elf64_Ehdr *eh = m;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shoff == 0 || eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > f->size)
        return;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(f->map + eh->e_shoff);
    const Elf64_Shdr *best = NULL;
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type == SHT_SYMTAB) best = &sh[i];
        else if (sh[i].sh_type == SHT_DYNSYM && !best) best = &sh[i];
    }
    if (!best || best->sh_link >= eh->e_shnum) return;
    const Elf64_Shdr *str = &sh[best->sh_link];
    if (best->sh_offset + best->sh_size > f->size || str->sh_offset + str->sh_size > f->size) return;
    f->syms = (const Elf64_Sym *)(f->map + best->sh_offset);
    f->nsyms = best->sh_size / sizeof(Elf64_Sym);
    f->strs = (const char *)(f->map + str->sh_offset);
}

static symfile *file_for(const char *path)
{
    for (int i = 0; i < NFILES; i++) {
        if (files[i].path[0] && strcmp(files[i].path, path) == 0) return &files[i];
        if (!files[i].path[0]) {
            size_t n = strlen(path);
            if (n >= sizeof files[i].path) return NULL;
            memcpy(files[i].path, path, n + 1);
            load(&files[i]);
            return &files[i];
        }
    }
    return NULL;
}

/* The executable's path, for reports (dl_iterate_phdr names it ""). */
static const char *self_path(void)
{
    static char path[256];
    if (!path[0]) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0 || n >= (ssize_t)sizeof path - 1) strcpy(path, "/proc/self/exe");
        else path[n] = 0;
    }
    return path;
}

/* Set while this thread is inside dl_iterate_phdr (initial-exec: read from
 * a signal handler without __tls_get_addr). */
static __thread int iterating __attribute__((tls_model("initial-exec")));

struct find {
    uintptr_t addr;
    const char *name;
    uintptr_t bias;
    int found;
};

static int on_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct find *f = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type != PT_LOAD) continue;
        uintptr_t lo = info->dlpi_addr + p->p_vaddr;
        if (f->addr >= lo && f->addr < lo + p->p_memsz) {
            f->name = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : self_path();
            f->bias = info->dlpi_addr;
            f->found = 1;
            return 1;
        }
    }
    return 0;
}

/* Fills *fn with the function holding addr (NULL if unknown) and *off with
 * the offset in it; returns the object's path (NULL if none holds addr) and
 * its offset in *objoff, which `addr2line -e path objoff` turns into a line. */
const char *weft__symbolize(uintptr_t addr, const char **fn, uintptr_t *off, uintptr_t *objoff)
{
    struct find f = {addr, NULL, 0, 0};
    *fn = NULL;
    *off = 0;
    *objoff = 0;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
    struct dl_find_object dlfo;
    if (_dl_find_object((void *)addr, &dlfo) != 0 || !dlfo.dlfo_link_map) return NULL;
    const char *lname = dlfo.dlfo_link_map->l_name;
    f.name = lname && lname[0] ? lname : self_path();
    f.bias = dlfo.dlfo_link_map->l_addr;
    (void)on_object;
    (void)iterating;
#else
    if (iterating) return NULL;
    iterating = 1;
    dl_iterate_phdr(on_object, &f);
    iterating = 0;
    if (!f.found) return NULL;
#endif
    uintptr_t rel = addr - f.bias;
    *objoff = rel;
    static atomic_flag busy = ATOMIC_FLAG_INIT;
    if (atomic_flag_test_and_set(&busy)) return f.name;
    symfile *sf = file_for(f.name);
    if (!sf || !sf->syms) {
        atomic_flag_clear(&busy);
        return f.name;
    }
    const Elf64_Sym *best = NULL;
    for (size_t i = 0; i < sf->nsyms; i++) {
        const Elf64_Sym *s = &sf->syms[i];
        if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_value == 0 || s->st_value > rel)
            continue;
        if (s->st_size && rel >= s->st_value + s->st_size) continue;
        if (!best || s->st_value > best->st_value || (best->st_size == 0 && s->st_size))
            best = s;
    }
    if (best && (size_t)(sf->strs - (const char *)sf->map) + best->st_name < sf->size) {
        *fn = sf->strs + best->st_name;
        *off = rel - best->st_value;
    }
    atomic_flag_clear(&busy);
    return f.name;
}
