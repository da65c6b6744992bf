/* config-test.h - what test-config.c and test-span.c both need: a file parsed as lab.json */
#ifndef VMNET_TEST_CONFIG_TEST_H
#define VMNET_TEST_CONFIG_TEST_H

#define PATH "/etc/vmnet-broker.d/lab.json"
#define A(a, b, c, d) \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* Parse @text as lab.json. Return: config_parse()'s result. */
static int parse(const char *text, struct network_config *c, struct config_errors *e)
{
	memset(e, 0, sizeof(*e));
	return config_parse("lab", PATH, text, strlen(text), c, e);
}

/* @text must parse without an error; the caller clears *@c. */
static void parse_ok(const char *text, struct network_config *c)
{
	struct config_errors e;
	int r = parse(text, c, &e);

	if (r != 0 || e.n != 0)
		fail_msg("'%s' gave %d, first error %s: %s", text, r, e.n ? e.v[0].key : "-",
			 e.n ? e.v[0].reason : "-");
	config_errors_clear(&e);
}

/* @text must give an error on @key whose reason has @words. */
static void parse_bad(const char *text, const char *key, const char *words)
{
	struct network_config c;
	struct config_errors e;
	bool found = false;

	assert_int_equal(parse(text, &c, &e), CONFIG_E_INVALID);
	assert_true(e.n > 0);
	for (size_t i = 0; i < e.n; i++) {
		assert_string_equal(e.v[i].file, PATH);
		if (streq(e.v[i].key, key) && strstr(e.v[i].reason, words))
			found = true;
	}
	if (!found)
		fail_msg("'%s': no error '%s: ...%s...'; first was '%s: %s'", text, key, words,
			 e.v[0].key, e.v[0].reason);
	config_errors_clear(&e);
	network_config_clear(&c);
}

#endif
