/*
 * sign_model IN.fdl KEY CERT OUT.fdl: signs a model file as a coordinator
 * does at the end of a federation (fl_model_file_sign()), so the scoring
 * service's tests (tests/e2e/serve.sh) get signed models without running
 * one.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fedlead/error.h"
#include "fedlead/signed_model.h"

int main(int argc, char **argv)
{
	uint8_t *in = NULL, *out = NULL;
	size_t len = 0, olen = 0;
	int r;

	if (argc != 5) {
		fprintf(stderr, "usage: sign_model IN.fdl KEY CERT OUT.fdl\n");
		return 2;
	}
	if ((r = fl_model_read_file(argv[1], &in, &len)) != 0 ||
	    (r = fl_model_file_sign(in, len, argv[2], argv[3], &out, &olen)) != 0 ||
	    (r = fl_model_write_file(argv[4], out, olen)) != 0)
		fprintf(stderr, "sign_model: %s\n", fl_errmsg());
	free(in);
	free(out);
	return r != 0;
}
