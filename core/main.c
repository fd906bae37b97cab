/*
 * ringedge entry point: command line, configuration check. The control thread lives here.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/log.h"
#include "tls/tlsinfo.h"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: ringedge [-t | -T] -c FILE\n"
		"       ringedge --version | --config-reference\n"
		"\n"
		"  -c, --config FILE     configuration file (INI)\n"
		"  -t, --test            check the configuration, print \"configuration ok\" or the\n"
		"                        errors as FILE:LINE: message; exit 0 or 1 (like nginx -t)\n"
		"  -T, --dump            check, then print the effective configuration with defaults\n"
		"  -v, --version         version and the wolfSSL it was built with\n"
		"      --config-reference  the key reference (Markdown) of docs/configuration.md\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "dump", no_argument, NULL, 'T' },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "config-reference", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL;
	bool test = false, dump = false;
	struct cfg_errors err = { 0 };
	struct config *c;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:tTvh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 't':
			test = true;
			break;
		case 'T':
			test = dump = true;
			break;
		case 'v':
			printf("ringedge %s\n", RINGEDGE_VERSION);
			tls_info_print(stdout);
			return 0;
		case 'R':
			config_write_reference(stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc || file == NULL) {
		usage(stderr);
		return 1;
	}

	c = config_load(file, 0, &err);
	if (c == NULL) {
		fputs(err.text ? err.text : "configuration failed\n", stderr);
		fprintf(stderr, "ringedge: configuration %s test failed (%d error%s)\n", file,
			err.count, err.count == 1 ? "" : "s");
		cfg_errors_free(&err);
		return 1;
	}
	if (test) {
		if (dump)
			config_dump(c, stdout);
		printf("configuration ok\n");
		config_free(c);
		return 0;
	}
	if (!tls_info_fast())
		log_warn("AES-NI is OFF: linked against the system libwolfssl");
	log_error("%s: configuration ok, but serving is not implemented yet (the data plane "
		  "lands with the data-plane issue); use -t or -T", file);
	config_free(c);
	return 1;
}
