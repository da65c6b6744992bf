/* print-host.c - what status prints of the host's firewall: what the daemon found and did there */
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "cli.h"
#include "util.h"

/* "iptables-nft (ipv4): FORWARD policy drop, INPUT accept; accept rules in place, from DOCKER-USER" */
static void print_iptables(json_t *e)
{
	const char *fam = str_or_dash(e, "family"),
		   *err = json_string_value(json_object_get(e, "error"));

	printf("  %s-%s (%s): FORWARD policy %s, INPUT %s; ",
	       streq(fam, "ipv6") ? "ip6tables" : "iptables", str_or_dash(e, "backend"), fam,
	       str_or_dash(e, "forward_policy"), str_or_dash(e, "input_policy"));
	if (err)
		printf("error: %s\n", err);
	else if (!json_is_true(json_object_get(e, "in_place")))
		printf("the broker's accept rules are NOT in place\n");
	else if (json_object_get(e, "jump_from"))
		printf("accept rules in place, from %s%s\n", str_or_dash(e, "jump_from"),
		       json_is_true(json_object_get(e, "input_jump")) ? " and INPUT" : "");
	else
		printf("nothing needed\n");
}

/* The heading of the host's lines, before the first of them. */
static void heading(bool *shown)
{
	if (!*shown)
		puts("\nHost firewall:");
	*shown = true;
}

static void print_found(json_t *detected, bool *header)
{
	json_t *v;
	size_t i;

	if (!json_array_size(detected))
		return;
	heading(header);
	fputs("  found:", stdout);
	json_array_foreach(detected, i, v)
		printf("%s %s", i ? "," : "", json_string_value(v) ? json_string_value(v) : "?");
	putchar('\n');
}

void print_host(json_t *host)
{
	json_t *nft = json_object_get(host, "nftables"), *fw = json_object_get(host, "firewalld");
	json_t *last = json_object_get(nft, "last_restore"), *dns = json_object_get(host, "dns"), *v;
	bool header = false;
	size_t i;

	if (last) {
		heading(&header);
		printf("  table inet vmnet_broker restored %" JSON_INTEGER_FORMAT
		       " time(s), last at %s: %s\n",
		       json_integer_value(json_object_get(nft, "restores")),
		       str_or_dash(last, "time"), str_or_dash(last, "cause"));
	}
	json_array_foreach(json_object_get(host, "iptables"), i, v) {
		heading(&header);
		print_iptables(v);
	}
	if (json_is_true(json_object_get(fw, "running"))) {
		heading(&header);
		printf("  firewalld: running; %zu bridge(s) in zone %s%s%s\n",
		       json_array_size(json_object_get(fw, "interfaces")), str_or_dash(fw, "zone"),
		       json_object_get(fw, "error") ? "; error: " : "",
		       json_object_get(fw, "error") ? str_or_dash(fw, "error") : "");
	}
	json_array_foreach(json_object_get(host, "foreign_drop_chains"), i, v) {
		heading(&header);
		printf("  nftables %s %s chain %s drops on %s (see 'vmnet-broker doctor')\n",
		       str_or_dash(v, "family"), str_or_dash(v, "table"), str_or_dash(v, "chain"),
		       str_or_dash(v, "hook"));
	}
	if (json_array_size(json_object_get(dns, "networks"))) {
		heading(&header);
		printf("  DNS: a server of the host has port 53; %zu network(s) use port %" JSON_INTEGER_FORMAT
		       "\n",
		       json_array_size(json_object_get(dns, "networks")),
		       json_integer_value(json_object_get(dns, "alternate_port")));
	}
	print_found(json_object_get(host, "detected"), &header);
}
