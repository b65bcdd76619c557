/*
 * rpc_testd's TLS set-up, included by rpc_testd.c. Without the TLS
 * transport built in, TLS is refused.
 */
static struct tls_ctx *
tls_setup(const char *certdir, int role)
{
	(void)certdir;
	(void)role;
	log_warnx("testd", "TLS is not built in");
	return NULL;
}

static void
tls_teardown(struct tls_ctx *tls)
{
	(void)tls;
}
