/* TPM2-TSS through dlopen (see hal/tss.h for why). */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

#include "core/log.h"
/* Here the names are the members, not the calls through them. */
#define TSS_NO_REDIRECT
#include "hal/tss.h"

struct tss_fns	 tss;

static void	tss_load_once(void);

static const char *const tss_libs[] = {
	"libtss2-esys.so.0",
	"libtss2-mu.so.0",
	"libtss2-rc.so.0",
	"libtss2-tctildr.so.0",
};

/* Where each pointer goes, by name. */
#define TSS_SLOT(f)	{ #f, (void **)(void *)&tss.f },
static const struct {
	const char	*name;
	void		**slot;
} tss_table[] = {
	TSS_FUNCTIONS(TSS_SLOT)
};
#undef TSS_SLOT

static pthread_once_t	 tss_once = PTHREAD_ONCE_INIT;
static enum tpm_err	 tss_status = TPM_ERR_NO_DEVICE;

static void
tss_load_once(void)
{
	void	*h[sizeof(tss_libs) / sizeof(tss_libs[0])];
	void	*p;
	size_t	 i, j;

	for (i = 0; i < sizeof(tss_libs) / sizeof(tss_libs[0]); i++) {
		h[i] = dlopen(tss_libs[i], RTLD_NOW | RTLD_LOCAL);
		if (h[i] == NULL) {
			log_kv(LOG_LEVEL_ERROR, "tpm", "cannot load the TPM "
			    "software stack (install the Debian packages "
			    "libtss2-esys-3.0.2-0, libtss2-mu0, libtss2-rc0, "
			    "libtss2-tctildr0)", "error", dlerror(), NULL);
			return;
		}
	}
	for (i = 0; i < sizeof(tss_table) / sizeof(tss_table[0]); i++) {
		p = NULL;
		for (j = 0; j < sizeof(h) / sizeof(h[0]) && p == NULL; j++)
			p = dlsym(h[j], tss_table[i].name);
		if (p == NULL) {
			log_kv(LOG_LEVEL_ERROR, "tpm", "the TPM software stack "
			    "lacks a function", "function", tss_table[i].name,
			    NULL);
			return;
		}
		*tss_table[i].slot = p;
	}
	/* The handles stay open for the process's life: nothing unloads. */
	tss_status = TPM_OK;
}

enum tpm_err
tss_load(void)
{
	pthread_once(&tss_once, tss_load_once);
	return tss_status;
}
