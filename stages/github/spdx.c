/* github/spdx: the built-in SPDX licence texts (spdx.h). SPDX_JSON, the path of the copy the
 * build made, comes from the Makefile. */
#include <stdio.h>

#include "spdx.h"

#ifndef SPDX_JSON
#error "SPDX_JSON: the Makefile names the spdx-full.json the build fetched"
#endif

/* the build runs from the repository root, so a relative SPDX_JSON is relative to it */
__asm__(".pushsection .rodata\n"
	"lic_spdx_json_begin:\n"
	".incbin \"" SPDX_JSON "\"\n"
	"lic_spdx_json_end:\n"
	".byte 0\n"
	".popsection\n");
extern const char lic_spdx_json_begin[], lic_spdx_json_end[];

struct lic_db *lic_db_builtin(void)
{
	return lic_db_parse(lic_spdx_json_begin, (size_t)(lic_spdx_json_end - lic_spdx_json_begin),
			    "the built-in SPDX texts");
}

const char *lic_builtin_version(void)
{
	static char v[128];
	if (!v[0]) {
		unsigned char h[SHA256_LEN];
		char hex[SHA256_HEX];
		sha256(lic_spdx_json_begin, (size_t)(lic_spdx_json_end - lic_spdx_json_begin), h);
		sha256_hexstr(h, hex);
		snprintf(v, sizeof v, "spdx-license-list 6.12.0 %s", hex);
	}
	return v;
}
