/*
 * The throw-away PKI of pki.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/pki.h"

char pki_dir[64];

/* sh() with prefix before the command. */
static int vsh(const char *prefix, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));
static int vsh(const char *prefix, const char *fmt, va_list ap)
{
	char cmd[4096], full[4600];
	size_t n = (size_t)snprintf(cmd, sizeof(cmd), "%s", prefix);
	int r;

	vsnprintf(cmd + n, sizeof(cmd) - n, fmt, ap);
	snprintf(full, sizeof(full), "cd '%s' && { %s; } >>log 2>&1", pki_dir, cmd);
	r = system(full);
	if (r != 0) {
		fprintf(stderr, "command failed (%d): %s\n", r, cmd);
		snprintf(full, sizeof(full), "tail -n 20 '%s/log' >&2", pki_dir);
		if (system(full) != 0)
			fprintf(stderr, "(no log)\n");
	}
	return r;
}

int sh(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsh("", fmt, ap);
	va_end(ap);
	return r;
}

int ca(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsh("bash '" CA_TOOL "' ", fmt, ap);
	va_end(ap);
	return r;
}

int pki_setup(const char *dir_template)
{
	snprintf(pki_dir, sizeof(pki_dir), "%s", dir_template);
	if (mkdtemp(pki_dir) == NULL) {
		perror(dir_template);
		return -1;
	}
	return ca("init --dir ca") == 0 ? 0 : -1;
}

int pki_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki_dir);
	return system(cmd) == 0 ? 0 : -1;
}

const char *P(const char *name)
{
	static char buf[64][256];
	static int i;

	i = (i + 1) % 64;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", pki_dir, name);
	return buf[i];
}

EVP_PKEY *pki_load_key(const char *name)
{
	EVP_PKEY *k = NULL;
	FILE *f = fopen(P(name), "r");

	if (f != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	return k;
}

uint8_t *pki_load_der(const char *name, size_t *len)
{
	uint8_t *der = NULL;
	X509 *x = NULL;
	FILE *f = fopen(P(name), "r");
	int n;

	*len = 0;
	if (f == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return NULL;
	n = i2d_X509(x, &der);
	X509_free(x);
	if (n <= 0)
		return NULL;
	*len = (size_t)n;
	return der;
}
