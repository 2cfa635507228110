/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mkgpt - write a GPT partition table onto an existing raw disk image.
 *
 *   mkgpt DISK.img TYPE:SIZE_MiB[:NAME]...
 *
 * TYPE is esp, msr or basic; SIZE_MiB is a whole number of MiB or "rest"
 * (last partition only: up to the last 1 MiB boundary before the backup
 * GPT).  Partitions are laid out back to back from 1 MiB, 1 MiB aligned.
 *
 * On success prints one line per partition on stdout:
 *
 *   N START_SECTOR SIZE_SECTORS TYPE
 *
 * in 512-byte sectors, so that a script can compute byte offsets.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libfdisk.h>

#define MIB		(1024ULL * 1024ULL)
#define SECTOR		512ULL
#define MAX_PARTS	128	/* default GPT entry array: 128 entries */
#define GPT_NAME_MAX	36	/* UEFI 2.10 5.3.3: PartitionName is CHAR16[36] */

struct part_type {
	const char *name;	/* command-line name */
	const char *guid;	/* UEFI spec 2.10 table 5.7 / Microsoft docs */
	const char *label;	/* default GPT partition name, as Windows sets it */
};

static const struct part_type part_types[] = {
	{ "esp",   "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "EFI system partition" },
	{ "msr",   "E3C9E316-0B5C-4DB8-817D-F92DF00215AE", "Microsoft reserved partition" },
	{ "basic", "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "Basic data partition" },
};

struct part_spec {
	const struct part_type *type;
	uint64_t size_mib;	/* 0 = rest */
	const char *name;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mkgpt DISK.img TYPE:SIZE_MiB[:NAME]...\n"
		"  TYPE      esp | msr | basic\n"
		"  SIZE_MiB  whole MiB, or 'rest' for the last partition\n"
		"  NAME      GPT partition name (default: the name Windows uses)\n"
		"Prints 'N START_SECTOR SIZE_SECTORS TYPE' per partition (512-byte sectors).\n");
}

/* Code points in a UTF-8 string (each fits one UTF-16 unit for names we use). */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static int parse_part(const char *arg, int is_last, struct part_spec *spec)
{
	const char *colon, *size_str, *name = NULL;
	char *end, sizebuf[32];
	size_t tlen, slen;
	unsigned long long v;
	size_t i;

	colon = strchr(arg, ':');
	if (!colon) {
		fprintf(stderr, "mkgpt: '%s': expected TYPE:SIZE_MiB[:NAME]\n", arg);
		return -EINVAL;
	}
	tlen = (size_t)(colon - arg);
	spec->type = NULL;
	for (i = 0; i < sizeof(part_types) / sizeof(part_types[0]); i++) {
		if (strlen(part_types[i].name) == tlen &&
		    !strncmp(part_types[i].name, arg, tlen)) {
			spec->type = &part_types[i];
			break;
		}
	}
	if (!spec->type) {
		fprintf(stderr, "mkgpt: '%s': unknown type '%.*s' (esp, msr, basic)\n",
			arg, (int)tlen, arg);
		return -EINVAL;
	}

	size_str = colon + 1;
	colon = strchr(size_str, ':');
	if (colon) {
		slen = (size_t)(colon - size_str);
		name = colon + 1;
		if (!*name) {
			fprintf(stderr, "mkgpt: '%s': empty partition name\n", arg);
			return -EINVAL;
		}
		if (utf8_chars(name) > GPT_NAME_MAX) {
			fprintf(stderr, "mkgpt: '%s': partition name longer than %d characters\n",
				arg, GPT_NAME_MAX);
			return -EINVAL;
		}
	} else {
		slen = strlen(size_str);
	}
	if (slen == 0 || slen >= sizeof(sizebuf)) {
		fprintf(stderr, "mkgpt: '%s': bad size\n", arg);
		return -EINVAL;
	}
	memcpy(sizebuf, size_str, slen);
	sizebuf[slen] = '\0';

	if (!strcmp(sizebuf, "rest")) {
		if (!is_last) {
			fprintf(stderr, "mkgpt: '%s': size 'rest' is only allowed for the last partition\n",
				arg);
			return -EINVAL;
		}
		spec->size_mib = 0;
	} else {
		if (sizebuf[0] < '0' || sizebuf[0] > '9') {
			fprintf(stderr, "mkgpt: '%s': size must be a number of MiB or 'rest'\n", arg);
			return -EINVAL;
		}
		errno = 0;
		v = strtoull(sizebuf, &end, 10);
		if (errno || *end || v == 0 || v > (UINT64_MAX / MIB)) {
			fprintf(stderr, "mkgpt: '%s': size must be a number of MiB > 0 or 'rest'\n",
				arg);
			return -EINVAL;
		}
		spec->size_mib = v;
	}
	spec->name = name ? name : spec->type->label;
	return 0;
}

static int add_part(struct fdisk_context *cxt, struct fdisk_label *lb,
		    const char *disk, size_t partno, const struct part_spec *spec,
		    uint64_t start, uint64_t size)
{
	struct fdisk_partition *pa;
	struct fdisk_parttype *t;
	int r;

	pa = fdisk_new_partition();
	if (!pa)
		return -ENOMEM;

	t = fdisk_label_get_parttype_from_string(lb, spec->type->guid);
	if (!t) {
		fprintf(stderr, "mkgpt: %s: libfdisk does not know type %s\n",
			disk, spec->type->guid);
		r = -EINVAL;
		goto out;
	}
	r = fdisk_partition_set_type(pa, t);
	/* set_type took its own reference (no-op for the static GPT table). */
	fdisk_unref_parttype(t);
	if (r)
		goto fail;

	r = fdisk_partition_set_partno(pa, partno);
	if (!r)
		r = fdisk_partition_set_start(pa, start);
	if (!r)
		r = fdisk_partition_set_size(pa, size);
	if (!r)
		r = fdisk_partition_set_name(pa, spec->name);
	if (r)
		goto fail;

	r = fdisk_add_partition(cxt, pa, NULL);
	if (r)
		goto fail;
	goto out;
fail:
	fprintf(stderr, "mkgpt: %s: cannot add partition %zu (%s, start %" PRIu64
		", %" PRIu64 " sectors): %s\n", disk, partno + 1, spec->type->name,
		start, size, strerror(-r));
out:
	fdisk_unref_partition(pa);
	return r;
}

int main(int argc, char **argv)
{
	struct part_spec specs[MAX_PARTS];
	struct fdisk_context *cxt = NULL;
	struct fdisk_label *lb;
	const char *disk;
	uint64_t sector_size, grain, start, size, last, s2;
	size_t nparts, i;
	struct stat st;
	int r;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	disk = argv[1];
	nparts = (size_t)argc - 2;
	if (nparts > MAX_PARTS) {
		fprintf(stderr, "mkgpt: at most %d partitions\n", MAX_PARTS);
		return 2;
	}
	for (i = 0; i < nparts; i++)
		if (parse_part(argv[i + 2], i == nparts - 1, &specs[i]))
			return 2;

	/* Refuse to create the image: a typo must not leave a stray file. */
	if (stat(disk, &st)) {
		fprintf(stderr, "mkgpt: %s: %s\n", disk, strerror(errno));
		return 1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		fprintf(stderr, "mkgpt: %s: not a regular file or block device\n", disk);
		return 1;
	}

	cxt = fdisk_new_context();
	if (!cxt) {
		fprintf(stderr, "mkgpt: out of memory\n");
		return 1;
	}
	r = fdisk_assign_device(cxt, disk, 0);
	if (r) {
		fprintf(stderr, "mkgpt: %s: cannot open: %s\n", disk, strerror(-r));
		goto out;
	}
	r = fdisk_create_disklabel(cxt, "gpt");
	if (r) {
		fprintf(stderr, "mkgpt: %s: cannot create GPT label: %s\n", disk, strerror(-r));
		goto out;
	}
	lb = fdisk_get_label(cxt, NULL);

	sector_size = fdisk_get_sector_size(cxt);
	if (sector_size == 0 || MIB % sector_size) {
		fprintf(stderr, "mkgpt: %s: unsupported sector size %" PRIu64 "\n",
			disk, sector_size);
		r = -EINVAL;
		goto out;
	}
	grain = MIB / sector_size;
	last = fdisk_get_last_lba(cxt);	/* last usable LBA (before backup GPT) */

	start = grain;
	for (i = 0; i < nparts; i++) {
		if (specs[i].size_mib) {
			size = specs[i].size_mib * grain;
			if (start + size - 1 > last) {
				fprintf(stderr, "mkgpt: %s: partition %zu (%s, %" PRIu64
					" MiB) does not fit: last usable sector is %" PRIu64
					" (%" PRIu64 "-byte sectors)\n",
					disk, i + 1, specs[i].type->name,
					specs[i].size_mib, last, sector_size);
				r = -ENOSPC;
				goto out;
			}
		} else {
			/* rest: keep the end on a 1 MiB boundary too */
			size = last + 1 > start ? (last + 1 - start) / grain * grain : 0;
			if (size == 0) {
				fprintf(stderr, "mkgpt: %s: no space left for partition %zu (%s)\n",
					disk, i + 1, specs[i].type->name);
				r = -ENOSPC;
				goto out;
			}
		}
		r = add_part(cxt, lb, disk, i, &specs[i], start, size);
		if (r)
			goto out;
		start += size;
	}

	r = fdisk_write_disklabel(cxt);
	if (r) {
		fprintf(stderr, "mkgpt: %s: cannot write GPT: %s\n", disk, strerror(-r));
		goto out;
	}

	/* Report what libfdisk actually recorded, in 512-byte sectors. */
	for (i = 0; i < nparts; i++) {
		struct fdisk_partition *pa = NULL;

		r = fdisk_get_partition(cxt, i, &pa);
		if (r) {
			fprintf(stderr, "mkgpt: %s: cannot read back partition %zu: %s\n",
				disk, i + 1, strerror(-r));
			goto out;
		}
		s2 = sector_size / SECTOR;
		printf("%zu %" PRIu64 " %" PRIu64 " %s\n", i + 1,
		       (uint64_t)fdisk_partition_get_start(pa) * s2,
		       (uint64_t)fdisk_partition_get_size(pa) * s2,
		       specs[i].type->name);
		fdisk_unref_partition(pa);
	}
	if (fflush(stdout)) {
		r = -errno;
		fprintf(stderr, "mkgpt: cannot write to stdout: %s\n", strerror(errno));
		goto out;
	}

	r = fdisk_deassign_device(cxt, 0);	/* fsync + close */
	if (r)
		fprintf(stderr, "mkgpt: %s: cannot close: %s\n", disk, strerror(-r));
out:
	fdisk_unref_context(cxt);
	return r ? 1 : 0;
}
