#include <stdio.h>
#include <string.h>

#include "tls/tlsinfo.h"

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("ringedge %s\n", RINGEDGE_VERSION);
		tls_info_print(stdout);
		return 0;
	}
	fprintf(stderr, "usage: ringedge [--version] [-t] -c FILE\n");
	return 1;
}
