/*
 * libFuzzer target for the INI loader: any bytes must give either a configuration or
 * FILE:LINE errors, never a crash, a leak or undefined behaviour. Resolution and file checks
 * are off so the fuzzer explores the parser, not the resolver.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/lib/log.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_errors err = { 0 };
	struct config *c;
	char *text;

	log_threshold = -1;	/* warnings would flood the fuzzer's output */
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	c = config_load_string("fuzz.ini", text, CONFIG_NO_RESOLVE | CONFIG_NO_FILES, &err);
	if (c != NULL) {
		FILE *null = fopen("/dev/null", "w");

		if (null != NULL) {
			config_dump(c, null);
			fclose(null);
		}
		if (err.count != 0)
			abort();	/* success must not come with errors */
		config_free(c);
	} else if (err.count == 0) {
		abort();		/* failure must say why */
	}
	cfg_errors_free(&err);
	free(text);
	return 0;
}
