// SPDX-License-Identifier: GPL-2.0
/*
 * zdref: the physical range behind a device.
 *
 * FS_DAX and GENERIC pages must sit on real memory that the kernel does
 * not use: a range reserved with memmap=SIZE$START.  memremap_pages()
 * WARNs on a range that overlaps System RAM, so every check happens here,
 * before it, with a message that tells what to change.  A device-private
 * range needs no memory behind it: without a start, it comes from
 * request_free_mem_region().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/visibility.h>
#include <linux/kernel.h>
#include <linux/mm.h>

#include <zdref/compat.h>
#include "zdref.h"

struct zdref_cover {
	u64 next;	/* first byte not yet known to be reserved */
};

/* Called for each reserved resource inside the range, in address order. */
static int zdref_cover_res(struct resource *res, void *arg)
{
	struct zdref_cover *cover = arg;

	if (res->start > cover->next)
		return 1;	/* a hole: stop the walk */
	cover->next = max_t(u64, cover->next, res->end + 1);
	return 0;
}

static bool zdref_range_reserved(u64 start, u64 size)
{
	struct zdref_cover cover = { .next = start };

	walk_iomem_res_desc(IORES_DESC_RESERVED, IORESOURCE_MEM, start,
			    start + size - 1, &cover, zdref_cover_res);
	return cover.next >= start + size;
}

/*
 * memparse() that refuses what does not fit in 64 bits, where memparse()
 * wraps ("17179869185G" would be 1 GiB): -ERANGE.  -EINVAL without a
 * number.
 */
static int zdref_memparse(const char *s, const char **end, u64 *val)
{
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	size_t len = hex ? 2 + strspn(s + 2, "0123456789abcdefABCDEF") :
			   strspn(s, "0123456789");
	unsigned int shift = 0;
	char num[24];
	int ret;

	if (!len || (hex && len == 2))
		return -EINVAL;
	if (len >= sizeof(num))
		return -ERANGE;
	memcpy(num, s, len);
	num[len] = '\0';
	ret = kstrtoull(num, 0, val);
	if (ret)
		return ret;
	*end = s + len;
	switch (**end) {
	case 'E': case 'e':
		shift += 10;
		fallthrough;
	case 'P': case 'p':
		shift += 10;
		fallthrough;
	case 'T': case 't':
		shift += 10;
		fallthrough;
	case 'G': case 'g':
		shift += 10;
		fallthrough;
	case 'M': case 'm':
		shift += 10;
		fallthrough;
	case 'K': case 'k':
		shift += 10;
		(*end)++;
	}
	if (shift && *val > U64_MAX >> shift)
		return -ERANGE;
	*val <<= shift;
	return 0;
}

/* "SIZE@START" or, as memmap= spells it, "SIZE$START"; START is optional. */
static int zdref_parse_region(const char *region, u64 *size, u64 *start,
			      bool *has_start)
{
	const char *end;
	int ret;

	ret = zdref_memparse(region, &end, size);
	if (ret)
		return ret;
	*has_start = *end == '@' || *end == '$';
	*start = 0;
	if (*has_start) {
		ret = zdref_memparse(end + 1, &end, start);
		if (ret)
			return ret;
	}
	if (*end != '\0')
		return -EINVAL;
	return 0;
}

static int zdref_claim_free(struct zdref_dev *zd, u64 size)
{
	struct resource *res;

	res = request_free_mem_region(&iomem_resource, size, KBUILD_MODNAME);
	if (IS_ERR(res)) {
		pr_err("no free physical range of %llu MiB for device-private memory (%ld)\n",
		       size >> 20, PTR_ERR(res));
		return PTR_ERR(res);
	}
	zd->res = res;
	return 0;
}

/**
 * zdref_region_claim() - check and claim the range of a device
 * @zd: the device; @zd->info says what the range must be fit for
 * @region: the region= parameter, "SIZE@START"
 *
 * Return: 0 with @zd->res claimed, or -EINVAL for a range that cannot be
 * used (the log says why), -EBUSY when another driver holds it.
 */
int zdref_region_claim(struct zdref_dev *zd, const char *region)
{
	bool has_start;
	u64 size, start;
	int ret;

	if (!region || !*region) {
		pr_err("region= is missing: give region=SIZE@START of a range reserved with memmap=SIZE$START\n");
		return -EINVAL;
	}
	ret = zdref_parse_region(region, &size, &start, &has_start);
	if (ret == -ERANGE) {
		pr_err("region=%s: a size or start past 2^64 bytes\n", region);
		return -EINVAL;
	}
	if (ret) {
		pr_err("region=%s: expected SIZE@START, e.g. region=256M@0x80000000\n",
		       region);
		return ret;
	}
	if (!size) {
		pr_err("region=%s: size is zero\n", region);
		return -EINVAL;
	}
	if (!IS_ALIGNED(size, ZDREF_ALIGN) || !IS_ALIGNED(start, ZDREF_ALIGN)) {
		pr_err("region=%s: start and size must be multiples of %lu MiB, the unit in which ZONE_DEVICE memory is hot-added\n",
		       region, ZDREF_ALIGN >> 20);
		return -EINVAL;
	}
	if (!has_start) {
		if (!zd->info->physical)
			return zdref_claim_free(zd, size);
		pr_err("region=%s: type=%s needs a start: region=SIZE@START of a memmap=SIZE$START range\n",
		       region, zdref_type_name(zd->type));
		return -EINVAL;
	}
	if (start + size < start) {
		pr_err("region=%s: wraps around the address space\n", region);
		return -EINVAL;
	}
	if (region_intersects(start, size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("region=%s: overlaps System RAM; reserve the range at boot with memmap=SIZE$START and see /proc/iomem\n",
		       region);
		return -EINVAL;
	}
	/* Device-private pages are never accessed at their address. */
	if (zd->info->physical && !zdref_range_reserved(start, size)) {
		pr_err("region=%s: not inside a reserved range; boot with memmap=%lluM$0x%llx or pick a range shown as Reserved in /proc/iomem\n",
		       region, size >> 20, start);
		return -EINVAL;
	}
	if (zd->info->physical && zdref_firmware_reserved(start, size)) {
		pr_err("region=%s: the firmware reserved part of it itself (its memory map, /sys/firmware/memmap, says so), memmap= did not; pick RAM the firmware reports as usable and reserve it with memmap=SIZE$START\n",
		       region);
		return -EINVAL;
	}
	if (zd->info->physical && !zdref_firmware_map())
		pr_warn("region=%s: this kernel keeps the firmware's memory map from modules, so zdref cannot tell a memmap= range from one the firmware reserved: make sure /sys/firmware/memmap lists [0x%llx-0x%llx] as System RAM\n",
			region, start, start + size - 1);
	zd->res = request_mem_region(start, size, KBUILD_MODNAME);
	if (!zd->res) {
		pr_err("region=%s: busy, another driver holds part of it (see /proc/iomem)\n",
		       region);
		return -EBUSY;
	}
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(zdref_region_claim);

/**
 * zdref_region_release() - give back the range zdref_region_claim() took
 * @zd: the device
 */
void zdref_region_release(struct zdref_dev *zd)
{
	release_mem_region(zd->res->start, resource_size(zd->res));
	zd->res = NULL;
}
EXPORT_SYMBOL_IF_KUNIT(zdref_region_release);
