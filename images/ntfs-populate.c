/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ntfs-populate - create directories and files with controlled timestamps
 * on an NTFS volume image, through libntfs-3g (no FUSE, no root).
 *
 *   ntfs-populate NTFS.img MANIFEST
 *
 * Manifest: one entry per line; blank lines and lines starting with '#'
 * are ignored.  Fields are separated by blanks; PATH may be written in
 * double quotes when it contains blanks.
 *
 *   dir     PATH TIME
 *   file    PATH TIME CONTENT
 *   dosname PATH SHORTNAME        (extension: give PATH an 8.3 name)
 *
 * PATH is absolute with backslashes (\Windows\System32\drivers).  Missing
 * parent directories are created with the entry's TIME; a later `dir` line
 * for an existing directory just sets its time.  Names must be valid
 * Win32 names; they are stored in the Win32 namespace, as Windows does when
 * it creates no 8.3 name (libntfs-3g itself would use the POSIX namespace).
 * Lookups ignore case, as on Windows.
 *
 * dosname gives an existing PATH its 8.3 name: if SHORTNAME is the long
 * name upper-cased, the single name becomes Win32+DOS; otherwise a separate
 * DOS-namespace name is added.  Long names left without an 8.3 name are
 * moved to the Win32 namespace at the end.
 *
 * TIME is UTC, YYYY-MM-DDTHH:MM:SSZ.  It is written to all four times of
 * $STANDARD_INFORMATION (creation, data modification, MFT change, access),
 * to every $FILE_NAME attribute of the file and to the matching directory
 * index entries.
 *
 * CONTENT is one of:
 *   zero:N            N zero bytes (allocated, not sparse)
 *   hex:AABBCC..:N    N bytes starting with those bytes; the rest is the
 *                     pseudo-random pattern below
 *   text:STRING       the rest of the line, verbatim (trailing blanks cut)
 *
 * Pattern: seed = FNV-1a 64 of the PATH bytes as written in the manifest;
 * byte i of the file is byte (i % 8) (little-endian) of the (i / 8 + 1)-th
 * output of splitmix64 started from that seed.  Prefix bytes replace the
 * first bytes of the pattern.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/index.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/layout.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/ntfstime.h>
#include <ntfs-3g/unistr.h>
#include <ntfs-3g/volume.h>

#define MAX_COMPONENTS	64
#define MAX_NAME_UTF16	255
#define MAX_FILE_SIZE	(1ULL << 32)	/* a typo guard, not an NTFS limit */
#define CHUNK		(64 * 1024)

enum entry_kind { E_DIR, E_FILE, E_DOSNAME };
enum content_kind { C_ZERO, C_HEX, C_TEXT };

struct entry {
	enum entry_kind kind;
	unsigned int lineno;
	char *path;			/* as written, for messages and seeding */
	char *comps[MAX_COMPONENTS];	/* point into a copy of path */
	char *comp_buf;
	int ncomps;
	ntfs_time time;
	enum content_kind ckind;
	uint8_t *prefix;
	size_t prefix_len;
	uint64_t size;
	char *text;
	char *dosname;
};

/* One inode whose times are set in the final pass. */
struct stamp {
	u64 mft_no;
	int depth;
	int explicit;
	ntfs_time time;
	const char *path;
};

static const char *manifest_name;
static const char *image_name;

static struct entry *entries;
static size_t nentries;
static struct stamp *stamps;
static size_t nstamps, stamps_cap;

static int err_line(unsigned int lineno, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int err_line(unsigned int lineno, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ntfs-populate: %s:%u: ", manifest_name, lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -EINVAL;
}

static int err_img(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* err is a positive errno (libntfs-3g style) or 0 for none; returns -err. */
static int err_img(int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ntfs-populate: %s: ", image_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	return err ? -err : -EIO;
}

/* ------------------------------------------------------------------ */
/* Manifest parsing                                                    */

static int unterminated_quote;

static char *next_field(char **cursor)
{
	char *p = *cursor, *start;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p) {
		*cursor = p;
		return NULL;
	}
	if (*p == '"') {
		start = ++p;
		while (*p && *p != '"')
			p++;
		if (*p != '"') {
			unterminated_quote = 1;
			return NULL;
		}
		*p++ = '\0';
	} else {
		start = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	*cursor = p;
	return start;
}

static int parse_time(const char *s, unsigned int lineno, ntfs_time *ret)
{
	struct tm tm = { 0 }, chk;
	struct timespec ts;
	int n = -1;
	time_t t;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    n != (int)strlen(s) || n != 20)
		return err_line(lineno, "bad time '%s' (want YYYY-MM-DDTHH:MM:SSZ, UTC)", s);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	chk = tm;
	t = timegm(&tm);
	/* timegm() normalises 02-30 to 03-02: reject what changed. */
	if (t == (time_t)-1 || tm.tm_year != chk.tm_year || tm.tm_mon != chk.tm_mon ||
	    tm.tm_mday != chk.tm_mday || tm.tm_hour != chk.tm_hour ||
	    tm.tm_min != chk.tm_min || tm.tm_sec != chk.tm_sec || tm.tm_year < -299)
		return err_line(lineno, "invalid date/time '%s'", s);
	ts.tv_sec = t;
	ts.tv_nsec = 0;
	*ret = timespec2ntfs(ts);
	return 0;
}

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*ret = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

/* Win32 naming rules (MS "Naming Files, Paths, and Namespaces"). */
static int check_name(const char *name, unsigned int lineno)
{
	static const char *const reserved[] = {
		"CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4",
		"COM5", "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3",
		"LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
	};
	size_t len = strlen(name), i, base;
	const unsigned char *p;

	if (!len)
		return err_line(lineno, "empty path component");
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return err_line(lineno, "'.' and '..' are not allowed in paths");
	for (p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || strchr("<>:\"/|?*", *p))
			return err_line(lineno, "name '%s' has a character Windows forbids", name);
	if (name[len - 1] == '.' || name[len - 1] == ' ')
		return err_line(lineno, "name '%s' ends with a dot or a blank", name);
	base = strcspn(name, ".");
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strlen(reserved[i]) == base && !strncasecmp(name, reserved[i], base))
			return err_line(lineno, "name '%s' is reserved on Windows", name);
	return 0;
}

static int split_path(struct entry *e)
{
	char *p, *comp;

	if (e->path[0] != '\\')
		return err_line(e->lineno, "path '%s' must start with a backslash", e->path);
	e->comp_buf = strdup(e->path + 1);
	if (!e->comp_buf)
		return -ENOMEM;
	e->ncomps = 0;
	p = e->comp_buf;
	/* allow one trailing backslash on directories: \a\b\ */
	if (*p && p[strlen(p) - 1] == '\\')
		p[strlen(p) - 1] = '\0';
	if (!*p)
		return err_line(e->lineno, "path '%s' names the root directory", e->path);
	while ((comp = strsep(&p, "\\"))) {
		if (e->ncomps == MAX_COMPONENTS)
			return err_line(e->lineno, "path '%s' is too deep", e->path);
		if (check_name(comp, e->lineno))
			return -EINVAL;
		e->comps[e->ncomps++] = comp;
	}
	return 0;
}

static int parse_content(struct entry *e, char *spec)
{
	char *hex, *colon;
	size_t i, hlen;

	if (!strncmp(spec, "zero:", 5)) {
		e->ckind = C_ZERO;
		if (parse_u64(spec + 5, &e->size))
			return err_line(e->lineno, "bad size in '%s'", spec);
	} else if (!strncmp(spec, "hex:", 4)) {
		e->ckind = C_HEX;
		hex = spec + 4;
		colon = strchr(hex, ':');
		if (!colon)
			return err_line(e->lineno, "'%s': want hex:BYTES:SIZE", spec);
		hlen = (size_t)(colon - hex);
		if (hlen == 0 || hlen % 2)
			return err_line(e->lineno, "'%s': want an even, non-zero number of hex digits",
					spec);
		e->prefix_len = hlen / 2;
		e->prefix = malloc(e->prefix_len);
		if (!e->prefix)
			return -ENOMEM;
		for (i = 0; i < hlen; i++)
			if (!isxdigit((unsigned char)hex[i]))
				return err_line(e->lineno, "'%s': bad hex digit '%c'", spec, hex[i]);
		for (i = 0; i < e->prefix_len; i++) {
			char b[3] = { hex[2 * i], hex[2 * i + 1], 0 };

			e->prefix[i] = (uint8_t)strtoul(b, NULL, 16);
		}
		if (parse_u64(colon + 1, &e->size))
			return err_line(e->lineno, "bad size in '%s'", spec);
		if (e->size < e->prefix_len)
			return err_line(e->lineno, "'%s': size is smaller than the prefix", spec);
	} else if (!strncmp(spec, "text:", 5)) {
		e->ckind = C_TEXT;
		e->text = strdup(spec + 5);
		if (!e->text)
			return -ENOMEM;
		e->size = strlen(e->text);
	} else {
		return err_line(e->lineno, "unknown content '%s' (zero:, hex:, text:)", spec);
	}
	if (e->size > MAX_FILE_SIZE)
		return err_line(e->lineno, "size %" PRIu64 " is too large", e->size);
	return 0;
}

static int parse_line(char *line, unsigned int lineno, struct entry *e)
{
	char *cur = line, *kind, *path, *tstr, *rest;
	size_t len;

	memset(e, 0, sizeof(*e));
	e->lineno = lineno;

	unterminated_quote = 0;
	kind = next_field(&cur);
	path = next_field(&cur);
	if (unterminated_quote)
		return err_line(lineno, "unterminated quote");
	if (!kind || !path)
		return err_line(lineno, "want 'dir PATH TIME', 'file PATH TIME CONTENT' or 'dosname PATH NAME'");
	e->path = strdup(path);
	if (!e->path)
		return -ENOMEM;
	if (split_path(e))
		return -EINVAL;

	if (!strcmp(kind, "dosname")) {
		e->kind = E_DOSNAME;
		rest = next_field(&cur);
		if (!rest || next_field(&cur))
			return err_line(lineno, "want 'dosname PATH SHORTNAME'");
		if (strlen(rest) > 12 || check_name(rest, lineno))
			return err_line(lineno, "bad 8.3 name '%s'", rest);
		e->dosname = strdup(rest);
		return e->dosname ? 0 : -ENOMEM;
	}

	tstr = next_field(&cur);
	if (!tstr)
		return err_line(lineno, "missing TIME");
	if (parse_time(tstr, lineno, &e->time))
		return -EINVAL;

	if (!strcmp(kind, "dir")) {
		e->kind = E_DIR;
		if (next_field(&cur))
			return err_line(lineno, "trailing text after 'dir PATH TIME'");
		return 0;
	}
	if (strcmp(kind, "file"))
		return err_line(lineno, "unknown entry type '%s' (dir, file, dosname)", kind);
	e->kind = E_FILE;

	/* CONTENT: the rest of the line, so text: may contain blanks */
	while (*cur == ' ' || *cur == '\t')
		cur++;
	rest = cur;
	len = strlen(rest);
	while (len && (rest[len - 1] == ' ' || rest[len - 1] == '\t'))
		rest[--len] = '\0';
	if (!len)
		return err_line(lineno, "missing CONTENT");
	if (strncmp(rest, "text:", 5) && strpbrk(rest, " \t"))
		return err_line(lineno, "trailing text after CONTENT");
	return parse_content(e, rest);
}

static int read_manifest(const char *name)
{
	char *line = NULL;
	size_t cap = 0, ecap = 0;
	unsigned int lineno = 0;
	ssize_t n;
	FILE *f;
	int r = 0;

	f = fopen(name, "re");
	if (!f) {
		r = -errno;
		fprintf(stderr, "ntfs-populate: %s: %s\n", name, strerror(errno));
		return r;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *p = line;

		lineno++;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		if (nentries == ecap) {
			struct entry *ne;

			ecap = ecap ? 2 * ecap : 64;
			ne = realloc(entries, ecap * sizeof(*ne));
			if (!ne) {
				r = -ENOMEM;
				break;
			}
			entries = ne;
		}
		r = parse_line(p, lineno, &entries[nentries]);
		nentries++;	/* parsed or not, it owns memory to free */
		if (r)
			break;
	}
	if (!r && ferror(f)) {
		r = -EIO;
		fprintf(stderr, "ntfs-populate: %s: read error\n", name);
	}
	free(line);
	fclose(f);
	if (!r && !nentries)
		fprintf(stderr, "ntfs-populate: %s: warning: no entries\n", name);
	return r;
}

static void free_entries(void)
{
	size_t i;

	for (i = 0; i < nentries; i++) {
		free(entries[i].path);
		free(entries[i].comp_buf);
		free(entries[i].prefix);
		free(entries[i].text);
		free(entries[i].dosname);
	}
	free(entries);
	free(stamps);
}

/* ------------------------------------------------------------------ */
/* Content                                                             */

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Fill buf with file bytes [pos, pos + len); pos is a multiple of 8. */
static void fill_chunk(const struct entry *e, uint64_t *prng, uint64_t pos,
		       uint8_t *buf, size_t len)
{
	size_t i, j;
	uint64_t v;

	switch (e->ckind) {
	case C_ZERO:
		memset(buf, 0, len);
		return;
	case C_TEXT:
		memcpy(buf, e->text + pos, len);
		return;
	case C_HEX:
		for (i = 0; i < len; i += 8) {
			v = splitmix64(prng);
			for (j = 0; j < 8 && i + j < len; j++)
				buf[i + j] = (uint8_t)(v >> (8 * j));
		}
		for (i = 0; pos + i < e->prefix_len && i < len; i++)
			buf[i] = e->prefix[pos + i];
		return;
	}
}

static int write_content(ntfs_inode *ni, const struct entry *e)
{
	uint64_t prng = fnv1a64(e->path), pos = 0;
	uint8_t *buf;
	ntfs_attr *na;
	size_t len;
	s64 w;
	int r = 0;

	if (!e->size)
		return 0;
	na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	if (!na)
		return err_img(errno, "%s: cannot open $DATA", e->path);
	/*
	 * Allocate real clusters up front: growing by writing would go through
	 * ntfs_attr_truncate(), which leaves holes and may mark the file sparse;
	 * a file Windows wrote is not sparse.
	 */
	if (ntfs_attr_truncate_solid(na, (s64)e->size)) {
		r = err_img(errno, "%s: cannot allocate %" PRIu64 " bytes", e->path, e->size);
		goto out;
	}
	buf = malloc(CHUNK);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	while (pos < e->size) {
		len = e->size - pos < CHUNK ? (size_t)(e->size - pos) : CHUNK;
		fill_chunk(e, &prng, pos, buf, len);
		w = ntfs_attr_pwrite(na, (s64)pos, (s64)len, buf);
		if (w <= 0) {
			r = err_img(w < 0 ? errno : EIO, "%s: write at offset %" PRIu64,
				    e->path, pos);
			break;
		}
		pos += (uint64_t)w;
		/* a short write would break the 8-byte alignment of the pattern */
		if ((size_t)w != len) {
			r = err_img(EIO, "%s: short write at offset %" PRIu64, e->path, pos);
			break;
		}
	}
	free(buf);
out:
	ntfs_attr_close(na);
	return r;
}

/* ------------------------------------------------------------------ */
/* Volume operations                                                   */

static int add_stamp(u64 mft_no, int depth, int explicit, ntfs_time t, const char *path)
{
	size_t i;

	for (i = 0; i < nstamps; i++) {
		if (stamps[i].mft_no != mft_no)
			continue;
		/* an explicit entry wins over an implicit parent; the last explicit wins */
		if (explicit || !stamps[i].explicit) {
			stamps[i].time = t;
			stamps[i].explicit = explicit;
			stamps[i].path = path;
		}
		return 0;
	}
	if (nstamps == stamps_cap) {
		struct stamp *ns;

		stamps_cap = stamps_cap ? 2 * stamps_cap : 64;
		ns = realloc(stamps, stamps_cap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		stamps = ns;
	}
	stamps[nstamps++] = (struct stamp){ mft_no, depth, explicit, t, path };
	return 0;
}

/*
 * ntfs_create() names new entries in the POSIX namespace (case-sensitive).
 * Windows, with no separate 8.3 name, uses the Win32 namespace, and readers
 * compare Win32 names ignoring case.  The namespace byte is not part of the
 * index collation (names collate by upcased name, then exactly), so it can
 * be changed in place in the $FILE_NAME attribute and in the parent's
 * index entry.
 *
 * This must run after any dosname: ntfs_set_ntfs_dos_name() expects the
 * long name in the POSIX namespace (it unlinks and relinks it, and
 * unlinking a Win32 name takes its DOS name with it, and then the inode).
 *
 * Called with only @ni open: the parent is opened here.
 */
static int set_win32_namespace(ntfs_inode *ni, const char *path)
{
	ntfs_attr_search_ctx *actx;
	ntfs_index_context *icx;
	FILE_NAME_ATTR *fn, *fnx;
	ntfs_inode *dir_ni;
	int r = 0;

	actx = ntfs_attr_get_search_ctx(ni, NULL);
	if (!actx)
		return err_img(errno, "%s: cannot get attribute context", path);
	while (!r && !ntfs_attr_lookup(AT_FILE_NAME, AT_UNNAMED, 0, CASE_SENSITIVE, 0,
				       NULL, 0, actx)) {
		fn = (FILE_NAME_ATTR *)((u8 *)actx->attr +
					le16_to_cpu(actx->attr->value_offset));
		if (fn->file_name_type != FILE_NAME_POSIX)
			continue;
		dir_ni = ntfs_inode_open(ni->vol, MREF_LE(fn->parent_directory));
		if (!dir_ni) {
			r = err_img(errno, "%s: cannot open parent directory", path);
			break;
		}
		icx = ntfs_index_ctx_get(dir_ni, NTFS_INDEX_I30, 4);
		if (!icx) {
			r = err_img(errno, "%s: cannot get index context", path);
		} else if (ntfs_index_lookup(fn, (int)le32_to_cpu(actx->attr->value_length),
					     icx)) {
			r = err_img(errno, "%s: own name not found in parent index", path);
		} else {
			fnx = (FILE_NAME_ATTR *)icx->data;
			fn->file_name_type = FILE_NAME_WIN32;
			fnx->file_name_type = FILE_NAME_WIN32;
			ntfs_inode_mark_dirty(actx->ntfs_ino);
			ntfs_index_entry_mark_dirty(icx);
		}
		if (icx)
			ntfs_index_ctx_put(icx);
		if (ntfs_inode_close(dir_ni) && !r)
			r = err_img(errno, "%s: cannot write parent directory", path);
	}
	if (!r && errno != ENOENT)
		r = err_img(errno, "%s: cannot walk $FILE_NAME attributes", path);
	ntfs_attr_put_search_ctx(actx);
	return r;
}

static int is_dir(ntfs_inode *ni)
{
	return !!(ni->mrec->flags & MFT_RECORD_IS_DIRECTORY);
}

/*
 * Look up or create child @name of @dir_ni.  Returns the opened child in
 * *ret (NULL and 0 when it does not exist and create is 0).
 */
static int child(ntfs_inode *dir_ni, const char *name, int create, mode_t type,
		 const char *path, ntfs_inode **ret)
{
	ntfschar *uname = NULL;
	ntfs_inode *ni;
	int ulen;
	u64 mref;

	*ret = NULL;
	mref = ntfs_inode_lookup_by_mbsname(dir_ni, name);
	if (mref != (u64)-1) {
		ni = ntfs_inode_open(dir_ni->vol, MREF(mref));
		if (!ni)
			return err_img(errno, "%s: cannot open '%s'", path, name);
		*ret = ni;
		return 0;
	}
	if (errno != ENOENT)
		return err_img(errno, "%s: lookup of '%s' failed", path, name);
	if (!create)
		return 0;

	ulen = ntfs_mbstoucs(name, &uname);
	if (ulen < 0)
		return err_img(errno, "%s: cannot convert '%s' to UTF-16", path, name);
	if (ulen > MAX_NAME_UTF16) {
		free(uname);
		return err_img(ENAMETOOLONG, "%s: '%s'", path, name);
	}
	ni = ntfs_create(dir_ni, const_cpu_to_le32(0), uname, (u8)ulen, type);
	free(uname);
	if (!ni)
		return err_img(errno, "%s: cannot create '%s'", path, name);
	/*
	 * ntfs_inode_lookup_by_mbsname() caches misses too: without this the
	 * next lookup of the name we just created would still say ENOENT.
	 */
	ntfs_inode_update_mbsname(dir_ni, name, ni->mft_no);
	*ret = ni;
	return 0;
}

/*
 * Walk (and with @create, make) the first @n components of @e's path.
 * Returns the opened last directory in *ret.  Created directories are
 * stamped with @e's time.
 */
static int walk_dirs(ntfs_volume *vol, const struct entry *e, int n, int create,
		     ntfs_inode **ret)
{
	ntfs_inode *dir_ni, *ni;
	int i, r;

	*ret = NULL;
	dir_ni = ntfs_inode_open(vol, FILE_root);
	if (!dir_ni)
		return err_img(errno, "cannot open the root directory");
	for (i = 0; i < n; i++) {
		int created = 0;

		r = child(dir_ni, e->comps[i], 0, 0, e->path, &ni);
		if (!r && !ni && create) {
			created = 1;
			r = child(dir_ni, e->comps[i], 1, S_IFDIR, e->path, &ni);
		}
		if (r || !ni) {
			ntfs_inode_close(dir_ni);
			return r ? r : err_img(ENOENT, "%s: '%s' does not exist",
					       e->path, e->comps[i]);
		}
		if (!is_dir(ni)) {
			ntfs_inode_close(ni);
			ntfs_inode_close(dir_ni);
			return err_img(ENOTDIR, "%s: '%s'", e->path, e->comps[i]);
		}
		if (created) {
			r = add_stamp(ni->mft_no, i + 1, 0, e->time, e->path);
			if (r) {
				ntfs_inode_close_in_dir(ni, dir_ni);
				ntfs_inode_close(dir_ni);
				return r;
			}
		}
		/*
		 * Only one level stays open: closing a dirty inode syncs its
		 * name into its parent's index by opening the parent, which
		 * must not be open already (no double opens in libntfs-3g).
		 */
		if (ntfs_inode_close(dir_ni)) {
			r = err_img(errno, "%s: cannot close directory", e->path);
			ntfs_inode_close(ni);
			return r;
		}
		dir_ni = ni;
	}
	*ret = dir_ni;
	return 0;
}

static int do_dir(ntfs_volume *vol, const struct entry *e)
{
	ntfs_inode *ni;
	int r;

	r = walk_dirs(vol, e, e->ncomps, 1, &ni);
	if (r)
		return r;
	r = add_stamp(ni->mft_no, e->ncomps, 1, e->time, e->path);
	if (ntfs_inode_close(ni) && !r)
		r = err_img(errno, "%s: cannot close", e->path);
	return r;
}

static int do_file(ntfs_volume *vol, const struct entry *e)
{
	ntfs_inode *dir_ni, *ni;
	int r;

	r = walk_dirs(vol, e, e->ncomps - 1, 1, &dir_ni);
	if (r)
		return r;
	r = child(dir_ni, e->comps[e->ncomps - 1], 0, 0, e->path, &ni);
	if (!r && ni) {
		ntfs_inode_close(ni);
		r = err_img(EEXIST, "%s", e->path);
	}
	if (!r)
		r = child(dir_ni, e->comps[e->ncomps - 1], 1, S_IFREG, e->path, &ni);
	if (r) {
		ntfs_inode_close(dir_ni);
		return r;
	}
	r = write_content(ni, e);
	if (!r)
		r = add_stamp(ni->mft_no, e->ncomps, 1, e->time, e->path);
	if (ntfs_inode_close_in_dir(ni, dir_ni) && !r)
		r = err_img(errno, "%s: cannot close", e->path);
	if (ntfs_inode_close(dir_ni) && !r)
		r = err_img(errno, "%s: cannot close parent", e->path);
	return r;
}

static int do_dosname(ntfs_volume *vol, const struct entry *e)
{
	ntfs_inode *dir_ni, *ni;
	int r;

	r = walk_dirs(vol, e, e->ncomps - 1, 0, &dir_ni);
	if (r)
		return r;
	r = child(dir_ni, e->comps[e->ncomps - 1], 0, 0, e->path, &ni);
	if (!r && !ni)
		r = err_img(0, "%s: no such file or directory (dosname must follow it)",
			    e->path);
	if (r) {
		ntfs_inode_close(dir_ni);
		return r;
	}
	/* closes both inodes, whatever the outcome */
	if (ntfs_set_ntfs_dos_name(ni, dir_ni, e->dosname, strlen(e->dosname), 0))
		return err_img(errno, "%s: cannot set 8.3 name '%s'", e->path, e->dosname);
	return 0;
}

static int cmp_depth_desc(const void *a, const void *b)
{
	const struct stamp *x = a, *y = b;

	if (x->depth != y->depth)
		return y->depth - x->depth;
	return x->mft_no < y->mft_no ? -1 : x->mft_no > y->mft_no;
}

/*
 * Set the times last, deepest first: creating a child, writing data or
 * adding a name all stamp "now" on the inode or its parent
 * (ntfs_inode_update_times()), and closing a child updates its parent's
 * index, so a parent is only final once all its children are.
 */
static int apply_stamp(ntfs_volume *vol, const struct stamp *s)
{
	ntfs_attr_search_ctx *actx;
	FILE_NAME_ATTR *fn;
	ntfs_inode *ni;
	int r = 0;

	ni = ntfs_inode_open(vol, s->mft_no);
	if (!ni)
		return err_img(errno, "%s: cannot reopen inode %llu", s->path,
			       (unsigned long long)s->mft_no);

	/* $STANDARD_INFORMATION is written from these by ntfs_inode_sync() */
	r = set_win32_namespace(ni, s->path);
	if (r)
		goto close;

	ni->creation_time = s->time;
	ni->last_data_change_time = s->time;
	ni->last_mft_change_time = s->time;
	ni->last_access_time = s->time;

	/* $FILE_NAME attributes in the MFT record: the library leaves them */
	actx = ntfs_attr_get_search_ctx(ni, NULL);
	if (!actx) {
		r = err_img(errno, "%s: cannot get attribute context", s->path);
		goto close;
	}
	while (!ntfs_attr_lookup(AT_FILE_NAME, AT_UNNAMED, 0, CASE_SENSITIVE, 0,
				 NULL, 0, actx)) {
		fn = (FILE_NAME_ATTR *)((u8 *)actx->attr +
					le16_to_cpu(actx->attr->value_offset));
		fn->creation_time = s->time;
		fn->last_data_change_time = s->time;
		fn->last_mft_change_time = s->time;
		fn->last_access_time = s->time;
		ntfs_inode_mark_dirty(actx->ntfs_ino);
	}
	if (errno != ENOENT)
		r = err_img(errno, "%s: cannot walk $FILE_NAME attributes", s->path);
	ntfs_attr_put_search_ctx(actx);

	/*
	 * Dirty + FileNameDirty: ntfs_inode_close() -> ntfs_inode_sync() writes
	 * $STANDARD_INFORMATION from ni->*_time and copies the same times into
	 * every index entry that names this inode (TimesSet clear).
	 */
	NInoSetDirty(ni);
	NInoFileNameSetDirty(ni);
close:
	if (ntfs_inode_close(ni) && !r)
		r = err_img(errno, "%s: cannot write inode", s->path);
	return r;
}

/* libntfs-3g logs to stdout by default; keep stdout clean, errors to stderr. */
static void setup_logging(void)
{
	ntfs_log_set_handler(ntfs_log_handler_stderr);
	ntfs_log_clear_levels(NTFS_LOG_LEVEL_INFO | NTFS_LOG_LEVEL_VERBOSE |
			      NTFS_LOG_LEVEL_QUIET | NTFS_LOG_LEVEL_PROGRESS);
}

int main(int argc, char **argv)
{
	ntfs_volume *vol;
	size_t i;
	int r = 0;

	if (argc != 3) {
		fprintf(stderr, "Usage: ntfs-populate NTFS.img MANIFEST\n");
		return 2;
	}
	image_name = argv[1];
	manifest_name = argv[2];

	if (read_manifest(manifest_name)) {
		free_entries();
		return 2;
	}

	setup_logging();
	vol = ntfs_mount(image_name, NTFS_MNT_EXCLUSIVE);
	if (!vol) {
		err_img(errno, "cannot open NTFS volume");
		free_entries();
		return 1;
	}
	/* Windows semantics: names match ignoring case (upcase table). */
	if (ntfs_set_ignore_case(vol)) {
		r = err_img(errno, "cannot switch to case-insensitive lookups");
		goto umount;
	}

	for (i = 0; i < nentries && !r; i++) {
		switch (entries[i].kind) {
		case E_DIR:
			r = do_dir(vol, &entries[i]);
			break;
		case E_FILE:
			r = do_file(vol, &entries[i]);
			break;
		case E_DOSNAME:
			r = do_dosname(vol, &entries[i]);
			break;
		}
		if (r)
			fprintf(stderr, "ntfs-populate: %s:%u: entry failed\n",
				manifest_name, entries[i].lineno);
	}

	if (!r) {
		qsort(stamps, nstamps, sizeof(*stamps), cmp_depth_desc);
		for (i = 0; i < nstamps && !r; i++)
			r = apply_stamp(vol, &stamps[i]);
	}

umount:
	/* Unmount even after an error: leave a consistent volume behind. */
	if (ntfs_umount(vol, FALSE)) {
		err_img(errno, "cannot unmount cleanly");
		r = r ? r : -EIO;
	}
	free_entries();
	return r ? 1 : 0;
}
