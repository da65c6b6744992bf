/* test-network.c - unit tests of the policy: a network's leases, its idle timer, the registry, limits
 *
 * Without root: the networks here are adopted ones whose bridge "exists"
 * (ifindex 0, so nothing reaches the kernel), with leases whose ports
 * exist too (no port spec), and no dnsmasq, no router advertisements.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker.h"
#include "forward.h"
#include "lease.h"
#include "network.h"
#include "registry.h"
#include "state.h"
#include "util.h"

#define NET 0xc0a84000u /* 192.168.64.0/24 */

struct fixture {
	sd_event *event;
	struct forward_table forwards;
	struct network_env env;
	char dir[64];
	struct network *idle; /* the network whose idle timer fired */
	unsigned int idle_calls;
};

static void on_idle(struct network *n, void *userdata)
{
	struct fixture *fx = userdata;

	fx->idle = n;
	fx->idle_calls++;
	network_free(n); /* as the broker does, once it is out of the registry */
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(sd_event_new(&fx->event), 0);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test-network-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx->env = (struct network_env){
		.event = fx->event,
		.forwards = &fx->forwards,
		.state_dir = fx->dir,
		.idle_timeout_usec = 1000,
		.next_lease_id = 1,
		.on_idle = on_idle,
		.userdata = fx,
	};
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(fx->forwards.n, 0); /* every claim was given back */
	forward_table_done(&fx->forwards);
	sd_event_unref(fx->event);
	assert_int_equal(rmdir(fx->dir), 0);
	free(fx);
	return 0;
}

/* A network of @mode, adopted and resumed: its bridge, bridge index 0, needs no kernel. */
static struct network *network(struct fixture *fx, const char *name, enum network_mode mode,
			       bool persistent)
{
	struct network_config c = { .mode = mode, .mtu = 1500, .persistent = persistent };
	struct network_addressing a = { .subnet = { .addr = NET, .len = 24 } };
	struct network_bridge br = { .name = "vmbr9" };
	struct network *n = NULL;

	snprintf(c.name, sizeof(c.name), "%s", name);
	assert_int_equal(network_adopt(&fx->env, &c, &a, &br, &n), 0);
	assert_int_equal(network_adopt_done(n), 0);
	return n;
}

/* A lease of @kind whose port is there already, as adoption finds one. */
static struct lease *lease(enum port_kind kind, int ifindex, uint8_t mac, unsigned int host, uid_t uid)
{
	struct state_lease rec = {
		.kind = kind,
		.ifindex = ifindex,
		.mac = { 0x02, 0, 0, 0, 0, mac },
		.host = host,
		.uid = uid,
	};
	struct lease *l = NULL;

	if (kind != PORT_NONE)
		snprintf(rec.ifname, sizeof(rec.ifname), "vmtap%d", ifindex);
	assert_int_equal(lease_new_from_record(&rec, (uint64_t)ifindex + 1, &l), 0);
	return l;
}

static void with_forward(struct lease *l, uint16_t external_port)
{
	struct port_forward f = { .protocol = FORWARD_TCP,
				  .external_port = external_port,
				  .internal_port = 22 };

	l->forwards = calloc(1, sizeof(f));
	assert_non_null(l->forwards);
	l->forwards[0] = f;
	l->n_forwards = 1;
}

static int add(struct network *n, struct lease *l)
{
	struct network_change ch = {};
	int r = network_add_lease(n, l, NULL, NULL, &ch);

	if (r)
		lease_free(l); /* still ours on failure */
	return r;
}

static void test_idle_timer(void **state)
{
	struct fixture *fx = *state;
	struct network *n = network(fx, "idle", MODE_HOST, false);
	struct lease *l = lease(PORT_NONE, 0, 0, 0, 1000);
	struct network_change ch;

	/* No lease yet: the timer runs. */
	assert_non_null(n->idle_timer);
	assert_int_equal(add(n, l), 0);
	assert_null(n->idle_timer);
	assert_int_equal(n->n_leases, 1);
	assert_ptr_equal(l->network, n);
	/* The last lease ends: the timer runs again, and removes the network. */
	network_remove_lease(n, l, &ch);
	assert_false(ch.firewall);
	assert_int_equal(n->n_leases, 0);
	assert_non_null(n->idle_timer);
	while (!fx->idle)
		assert_true(sd_event_run(fx->event, 1000000) >= 0);
	assert_ptr_equal(fx->idle, n);
	assert_int_equal(fx->idle_calls, 1);
}

static void test_persistent_is_never_idle(void **state)
{
	struct fixture *fx = *state;
	struct network *n = network(fx, "always", MODE_HOST, true);
	struct lease *l = lease(PORT_NONE, 0, 0, 0, 1000);
	struct network_change ch;

	assert_null(n->idle_timer);
	assert_int_equal(add(n, l), 0);
	network_remove_lease(n, l, &ch);
	assert_null(n->idle_timer);
	network_free(n);
}

static void test_mac_and_address_conflicts(void **state)
{
	struct fixture *fx = *state;
	struct network *n = network(fx, "conflicts", MODE_SHARED, false);

	assert_int_equal(add(n, lease(PORT_TAP, 10, 1, 2, 1000)), 0);
	/* Another port with that MAC: refused, and nothing of it stays. */
	assert_int_equal(add(n, lease(PORT_TAP, 11, 1, 3, 1000)), NETWORK_E_MAC_TAKEN);
	/* A hold has no MAC to conflict with. */
	assert_int_equal(add(n, lease(PORT_NONE, 0, 1, 0, 1000)), 0);
	/* An address held already. */
	assert_int_equal(add(n, lease(PORT_TAP, 12, 2, 2, 1000)), NETWORK_E_NO_ADDRESS);
	assert_int_equal(n->n_leases, 2);
	/* The address of a lease that failed went back: .3 is free. */
	assert_int_equal(add(n, lease(PORT_TAP, 13, 3, 3, 1000)), 0);
	assert_int_equal(n->n_leases, 3);
	network_free(n);
}

static void test_forwards(void **state)
{
	struct fixture *fx = *state;
	struct network *shared = network(fx, "shared", MODE_SHARED, false);
	struct network *other = network(fx, "other", MODE_SHARED, false);
	struct network *host = network(fx, "host", MODE_HOST, false);
	struct lease *l = lease(PORT_TAP, 20, 1, 5, 1000), *m;
	struct network_change ch = {};

	with_forward(l, 2222);
	assert_int_equal(network_add_lease(shared, l, NULL, NULL, &ch), 0);
	assert_true(ch.firewall);
	assert_ptr_equal(forward_table_owner(&fx->forwards, FORWARD_TCP, 2222), shared);

	/* The same host port from another network's lease. */
	m = lease(PORT_TAP, 21, 2, 6, 1000);
	with_forward(m, 2222);
	assert_int_equal(add(other, m), NETWORK_E_FORWARD_TAKEN);
	/* A host-only network has no way in. */
	m = lease(PORT_TAP, 22, 3, 7, 1000);
	with_forward(m, 3333);
	assert_int_equal(add(host, m), NETWORK_E_FORWARD_HOST_ONLY);
	/* A port without an address has nothing to forward to. */
	m = lease(PORT_TAP, 23, 4, 0, 1000);
	with_forward(m, 3333);
	assert_int_equal(add(other, m), NETWORK_E_FORWARD_NO_ADDRESS);

	/* The forwards go with their lease. */
	network_remove_lease(shared, l, &ch);
	assert_true(ch.firewall);
	assert_null(forward_table_owner(&fx->forwards, FORWARD_TCP, 2222));
	m = lease(PORT_TAP, 24, 5, 8, 1000);
	with_forward(m, 2222);
	assert_int_equal(add(other, m), 0);
	assert_ptr_equal(forward_table_owner(&fx->forwards, FORWARD_TCP, 2222), other);
	network_free(shared);
	network_free(other);
	network_free(host);
}

static void test_forwards_of_a_lease_that_lives(void **state)
{
	struct fixture *fx = *state;
	struct network *shared = network(fx, "shared", MODE_SHARED, false);
	struct lease *l = lease(PORT_TAP, 30, 1, 5, 1000), *m = lease(PORT_TAP, 31, 2, 6, 1000);
	struct port_forward v[REQUEST_FORWARDS_MAX + 1];
	const struct port_forward *unknown = NULL;
	struct network_change ch = {};

	for (size_t i = 0; i < ELEMENTSOF(v); i++)
		v[i] = (struct port_forward){ .protocol = FORWARD_TCP,
					      .external_port = (uint16_t)(3000 + i),
					      .internal_port = 80 };
	assert_int_equal(add(shared, l), 0);
	assert_int_equal(add(shared, m), 0);
	assert_int_equal(network_add_forwards(shared, l, v, 2, &ch), 0);
	assert_true(ch.firewall);
	assert_int_equal(l->n_forwards, 2);
	/* Aimed at the lease's address; no IPv6 twin without advertisements. */
	assert_int_equal(l->forwards[1].internal_address, NET + 5);
	assert_false(l->forwards[1].has_address6);
	assert_ptr_equal(forward_table_owner(&fx->forwards, FORWARD_TCP, 3001), shared);
	/* Taken, by this lease or another; all or nothing. */
	assert_int_equal(network_add_forwards(shared, m, v + 1, 2, &ch), NETWORK_E_FORWARD_TAKEN);
	assert_false(ch.firewall);
	assert_int_equal(m->n_forwards, 0);
	assert_null(forward_table_owner(&fx->forwards, FORWARD_TCP, 3002));
	/* Sixteen at most on one lease. */
	assert_int_equal(network_add_forwards(shared, l, v + 2, REQUEST_FORWARDS_MAX - 1, &ch),
			 NETWORK_E_FORWARDS_FULL);
	assert_int_equal(network_add_forwards(shared, l, v + 2, REQUEST_FORWARDS_MAX - 2, &ch), 0);
	assert_int_equal(l->n_forwards, REQUEST_FORWARDS_MAX);
	/* Removing: every one must be the lease's, else none goes. */
	v[REQUEST_FORWARDS_MAX].protocol = FORWARD_UDP;
	assert_int_equal(network_remove_forwards(shared, l, v + REQUEST_FORWARDS_MAX - 1, 2,
						 &unknown, &ch),
			 NETWORK_E_FORWARD_UNKNOWN);
	assert_ptr_equal(unknown, &v[REQUEST_FORWARDS_MAX]);
	assert_int_equal(l->n_forwards, REQUEST_FORWARDS_MAX);
	assert_int_equal(network_remove_forwards(shared, l, v, 1, &unknown, &ch), 0);
	assert_true(ch.firewall);
	assert_int_equal(l->n_forwards, REQUEST_FORWARDS_MAX - 1);
	assert_int_equal(l->forwards[0].external_port, 3001); /* the order stays */
	assert_null(forward_table_owner(&fx->forwards, FORWARD_TCP, 3000));
	/* Now free for the other lease. */
	assert_int_equal(network_add_forwards(shared, m, v, 1, &ch), 0);
	assert_ptr_equal(forward_table_owner(&fx->forwards, FORWARD_TCP, 3000), shared);
	network_free(shared);
}

static void test_registry_index(void **state)
{
	struct fixture *fx = *state;
	struct registry r;
	struct network *n = network(fx, "indexed", MODE_SHARED, false);
	struct lease *a = lease(PORT_TAP, 7, 1, 2, 1000);
	struct lease *b = lease(PORT_TAP, 7 + REGISTRY_BUCKETS, 2, 3, 1000); /* one bucket */
	struct lease *hold = lease(PORT_NONE, 0, 0, 0, 1000);
	struct lease *v[] = { a, b, hold };

	registry_init(&r);
	registry_add_network(&r, n);
	assert_ptr_equal(registry_find_network(&r, "indexed"), n);
	assert_null(registry_find_network(&r, "nope"));
	assert_true(registry_bridge_taken(&r, "vmbr9"));
	for (size_t i = 0; i < ELEMENTSOF(v); i++) {
		assert_int_equal(add(n, v[i]), 0);
		registry_add_lease(&r, v[i]);
	}
	assert_ptr_equal(registry_find_lease(&r, 7), a);
	assert_ptr_equal(registry_find_lease(&r, 7 + REGISTRY_BUCKETS), b);
	assert_null(registry_find_lease(&r, 0)); /* a hold has no port */
	/* Its ports and its hold: each keeps a network up. */
	assert_int_equal(registry_ports_of_user(&r, 1000), 3);
	assert_int_equal(registry_ports_of_user(&r, 1001), 0);
	registry_remove_lease(&r, a);
	assert_null(registry_find_lease(&r, 7));
	assert_ptr_equal(registry_find_lease(&r, 7 + REGISTRY_BUCKETS), b);
	registry_add_lease(&r, a);
	/* Out of the registry, its leases out of the index. */
	registry_remove_network(&r, n);
	assert_int_equal(r.n_networks, 0);
	assert_null(registry_find_lease(&r, 7));
	assert_null(registry_find_lease(&r, 7 + REGISTRY_BUCKETS));
	network_free(n);
}

static void test_limits(void **state)
{
	struct fixture *fx = *state;
	struct broker b = { .opt = { .max_networks = 2, .max_ports_per_user = 2 } };
	struct request tap = { .command = REQUEST_ACQUIRE, .port = PORT_TAP };
	struct request hold = { .command = REQUEST_ACQUIRE, .port = PORT_NONE };
	struct network *n1 = network(fx, "one", MODE_SHARED, false);
	struct network *n2 = network(fx, "two", MODE_SHARED, false);

	registry_init(&b.registry);
	registry_add_network(&b.registry, n1);
	strcpy(tap.network_name, "one");
	strcpy(hold.network_name, "one");
	assert_int_equal(broker_check_limits(&b, &tap, 1000, 0), 0);
	/* A new network, with max_networks running. */
	registry_add_network(&b.registry, n2);
	strcpy(tap.network_name, "three");
	assert_int_equal(broker_check_limits(&b, &tap, 1000, 0), BROKER_E_NETWORKS);
	strcpy(tap.network_name, "one");
	assert_int_equal(broker_check_limits(&b, &tap, 1000, 0), 0);
	/* Ports and holds per user, across networks; root has no such limit. */
	assert_int_equal(add(n1, lease(PORT_TAP, 30, 1, 2, 1000)), 0);
	assert_int_equal(add(n2, lease(PORT_TAP, 31, 2, 3, 1000)), 0);
	registry_add_lease(&b.registry, TAILQ_FIRST(&n1->leases));
	registry_add_lease(&b.registry, TAILQ_FIRST(&n2->leases));
	assert_int_equal(broker_check_limits(&b, &tap, 1000, 0), BROKER_E_USER_PORTS);
	assert_int_equal(broker_check_limits(&b, &tap, 0, 0), 0);
	assert_int_equal(broker_check_limits(&b, &tap, 1001, 0), 0);
	assert_int_equal(broker_check_limits(&b, &hold, 1000, 0), BROKER_E_USER_PORTS);
	assert_int_equal(broker_check_limits(&b, &hold, 1001, 0), 0);
	/* Holds per connection. */
	assert_int_equal(broker_check_limits(&b, &hold, 1001, BROKER_MAX_HOLDS_PER_CONNECTION),
			 BROKER_E_HOLDS);
	/* Ports per network: the bridge's most. */
	n1->n_leases = BROKER_MAX_PORTS_PER_NETWORK;
	assert_int_equal(broker_check_limits(&b, &tap, 0, 0), BROKER_E_NETWORK_PORTS);
	assert_int_equal(broker_check_limits(&b, &hold, 0, 0), 0);
	n1->n_leases = 1;
	registry_remove_network(&b.registry, n1);
	registry_remove_network(&b.registry, n2);
	network_free(n1);
	network_free(n2);
}

static int failures_left; /* of flaky_remove() */

static int flaky_remove(struct netlink *nl, const struct port *p)
{
	return failures_left-- > 0 ? -ENOBUFS : 0;
}

/*
 * A port that cannot be removed keeps its lease, removing: it still counts
 * against its user and keeps the network up, but no longer ends with its
 * client nor forwards anything; the next try ends it (#16.3).
 */
static void test_removing(void **state)
{
	struct fixture *fx = *state;
	struct registry reg;
	struct client cl;
	struct network *n;
	struct lease *l;
	struct network_change ch;
	json_t *o;

	fx->env.remove_port = flaky_remove;
	n = network(fx, "one", MODE_SHARED, false);
	registry_init(&reg);
	registry_add_network(&reg, n);
	l = lease(PORT_NAMED_TAP, 40, 1, 2, 1000);
	with_forward(l, 2222);
	assert_int_equal(add(n, l), 0);
	TAILQ_INIT(&cl.leases);
	l->client = &cl;
	TAILQ_INSERT_TAIL(&cl.leases, l, client_link);

	failures_left = 2;
	assert_false(network_remove_lease(n, l, &ch));
	assert_true(l->removing && ch.removing && ch.firewall);
	assert_true(TAILQ_EMPTY(&cl.leases));
	assert_null(l->client);
	assert_int_equal(fx->forwards.n, 0);
	assert_int_equal(n->n_leases, 1);
	assert_null(n->idle_timer);
	assert_int_equal(registry_ports_of_user(&reg, 1000), 1);
	o = network_status_json(n, 1000);
	assert_string_equal(json_string_value(
				    json_object_get(json_array_get(json_object_get(o, "leases"), 0),
						    "state")),
			    "removing");
	json_decref(o);
	/* Failing again changes nothing; the next success ends it. */
	assert_false(network_remove_lease(n, l, &ch));
	assert_false(ch.firewall);
	assert_true(network_remove_lease(n, l, &ch));
	assert_int_equal(n->n_leases, 0);
	assert_int_equal(registry_ports_of_user(&reg, 1000), 0);
	assert_non_null(n->idle_timer);
	registry_remove_network(&reg, n);
	network_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idle_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistent_is_never_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mac_and_address_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forwards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forwards_of_a_lease_that_lives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registry_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
