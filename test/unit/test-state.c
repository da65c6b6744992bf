/* test-state.c - unit tests of state.c: the snapshot, the journal and its replay */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "state.h"
#include "util.h"

#define NET_HEAD                                                                                    \
	"{\"version\":1,\"name\":\"shared\",\"mode\":\"shared\",\"bridge\":\"vmbr0\","              \
	"\"bridge_ifindex\":7,\"bridge_mac\":\"02:5e:11:22:33:44\",\"subnet\":\"192.168.64.0/24\"," \
	"\"ula\":\"fd12::\",\"mtu\":1500,\"dhcp\":true,\"dnsmasq_pid\":1234,\"leases\":["
#define NET_TAIL "]}"

/* A tap lease record on vmtapN, ifindex 100 + N, address .N + 2; @id 0: no "id" key. */
static char *lease(unsigned int id, unsigned int n)
{
	char *s, idkey[32] = "";

	if (id)
		snprintf(idkey, sizeof(idkey), "\"id\":%u,", id);
	if (asprintf(&s,
		     "{%s\"kind\":\"tap\",\"ifname\":\"vmtap%u\",\"mac\":\"02:00:00:00:00:%02x\","
		     "\"address\":\"192.168.64.%u\",\"uid\":0,\"pid\":1,\"label\":\"vm%u\","
		     "\"ifindex\":%u,\"host\":%u}",
		     idkey, n, n, n + 2, n, 100 + n, n + 2) < 0)
		fail_msg("out of memory");
	return s;
}

static char *add_line(unsigned int id, unsigned int n)
{
	_cleanup_free_ char *l = lease(id, n);
	char *s;

	if (asprintf(&s, "{\"add\":%s}\n", l) < 0)
		fail_msg("out of memory");
	return s;
}

/* A snapshot of leases (id, n) from @ids and @ns, @count of them. */
static char *snapshot(const unsigned int *ids, const unsigned int *ns, size_t count)
{
	char *s = strdup(NET_HEAD);

	for (size_t i = 0; s && i < count; i++) {
		_cleanup_free_ char *l = lease(ids[i], ns[i]), *old = s;

		if (asprintf(&s, "%s%s%s", old, i ? "," : "", l) < 0)
			s = NULL;
	}
	if (s) {
		_cleanup_free_ char *old = s;

		if (asprintf(&s, "%s" NET_TAIL, old) < 0)
			s = NULL;
	}
	if (!s)
		fail_msg("out of memory");
	return s;
}

static void parse(const char *text, struct state_network *n)
{
	int r = state_parse(text, strlen(text), n);

	if (r != 0)
		fail_msg("state_parse refused (%d): %s", r, text);
}

static int replay(struct state_network *n, const char *text)
{
	return state_replay(n, text, strlen(text));
}

/* The ids of @n's leases, in order, are exactly @ids. */
static void assert_ids(const struct state_network *n, const unsigned int *ids, size_t count)
{
	assert_int_equal(n->n_leases, count);
	for (size_t i = 0; i < count; i++)
		assert_int_equal(n->leases[i].id, ids[i]);
}

static void test_parse_ids(void **state)
{
	_cleanup_free_ char *text = snapshot((unsigned int[]){ 5, 9 }, (unsigned int[]){ 0, 1 }, 2);
	struct state_network n;

	parse(text, &n);
	assert_ids(&n, (unsigned int[]){ 5, 9 }, 2);
	assert_string_equal(n.leases[1].ifname, "vmtap1");
	assert_int_equal(n.leases[1].host, 3);
	assert_int_equal(n.leases[1].n_forwards, 0);
	state_network_clear(&n);
}

/* What the daemon of before the journal wrote: adopted, ids to be given. */
static void test_parse_old_snapshot_without_ids(void **state)
{
	_cleanup_free_ char *text = snapshot((unsigned int[]){ 0, 0 }, (unsigned int[]){ 0, 1 }, 2);
	struct state_network n;

	parse(text, &n);
	assert_ids(&n, (unsigned int[]){ 0, 0 }, 2);
	state_network_clear(&n);
}

/* What runs, recorded: the dynamic range and the domain; optional, as older daemons wrote none. */
static void test_parse_range_and_domain(void **state)
{
	static const char *const good =
		"{\"version\":1,\"name\":\"shared\",\"mode\":\"shared\",\"bridge\":\"vmbr0\","
		"\"bridge_ifindex\":7,\"bridge_mac\":\"02:5e:11:22:33:44\",\"subnet\":\"192.168.64.0/24\","
		"\"ula\":\"fd12::\",\"mtu\":1500,\"dhcp\":true,\"dnsmasq_pid\":1,"
		"\"dhcp_range\":[128,254],\"domain\":\"shared.vmnet\",\"leases\":[]}";
	static const char *const bad[] = {
		"\"dhcp_range\":[128]", "\"dhcp_range\":[200,100]",   "\"dhcp_range\":[128,255]",
		"\"dhcp_range\":[0,5]", "\"dhcp_range\":\"128-254\"", "\"domain\":\"a..b\"",
		"\"domain\":7",
	};
	struct state_network n;

	parse(good, &n);
	assert_true(n.has_range && n.has_domain);
	assert_int_equal(n.range_first, 128);
	assert_int_equal(n.range_last, 254);
	assert_string_equal(n.domain, "shared.vmnet");
	state_network_clear(&n);
	{
		_cleanup_free_ char *old = snapshot(NULL, NULL, 0);

		parse(old, &n);
		assert_false(n.has_range || n.has_domain);
		state_network_clear(&n);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_free_ char *text = NULL;

		assert_true(asprintf(&text, NET_HEAD NET_TAIL) > 0);
		text[strlen(text) - 1] = '\0';
		{
			_cleanup_free_ char *t2 = NULL;

			assert_true(asprintf(&t2, "%s,%s}", text, bad[i]) > 0);
			assert_int_equal(state_parse(t2, strlen(t2), &n), -EINVAL);
			state_network_clear(&n);
		}
	}
}

static void test_parse_refuses_bad_ids(void **state)
{
	_cleanup_free_ char *dup = snapshot((unsigned int[]){ 4, 4 }, (unsigned int[]){ 0, 1 }, 2);
	static const char *const bad_ids[] = { "0", "-1", "\"1\"", "1.5", "true" };
	struct state_network n;

	assert_int_equal(state_parse(dup, strlen(dup), &n), -EINVAL);
	for (size_t i = 0; i < ELEMENTSOF(bad_ids); i++) {
		_cleanup_free_ char *text = NULL;

		if (asprintf(&text,
			     NET_HEAD "{\"id\":%s,\"kind\":\"none\",\"uid\":0,\"pid\":1,\"label\":\"\","
				      "\"host\":0}" NET_TAIL,
			     bad_ids[i]) < 0)
			fail();
		assert_int_equal(state_parse(text, strlen(text), &n), -EINVAL);
	}
}

#define FWD(ext, addr)                                                                        \
	"{\"protocol\":\"tcp\",\"external_port\":" #ext ",\"internal_address\":\"" addr "\"," \
	"\"internal_port\":22}"
#define FWD_LEASE(fwds)                                                                               \
	NET_HEAD "{\"id\":1,\"kind\":\"netns\",\"ifname\":\"vmveth0\",\"mac\":\"02:00:00:00:00:01\"," \
		 "\"uid\":0,\"pid\":1,\"label\":\"\",\"ifindex\":9,\"host\":2,"                       \
		 "\"port_forwards\":[" fwds "]}" NET_TAIL

static void test_parse_forwards(void **state)
{
	static const char good[] = FWD_LEASE(FWD(2222, "192.168.64.2") "," FWD(2223, "192.168.64.2"));
	static const char *const bad[] = {
		FWD_LEASE(FWD(2222, "192.168.64.3")), /* not the lease's address */
		FWD_LEASE(FWD(2222, "192.168.64.2") "," FWD(2222, "192.168.64.2")), /* twice */
		FWD_LEASE(FWD(0, "192.168.64.2")),
		FWD_LEASE("7"),
	};
	struct state_network n;

	parse(good, &n);
	assert_int_equal(n.leases[0].n_forwards, 2);
	assert_int_equal(n.leases[0].forwards[1].external_port, 2223);
	assert_int_equal(n.leases[0].forwards[1].internal_port, 22);
	assert_int_equal(n.leases[0].forwards[1].internal_address, 0xc0a84002);
	assert_int_equal(n.leases[0].forwards[1].protocol, FORWARD_TCP);
	state_network_clear(&n);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_int_equal(state_parse(bad[i], strlen(bad[i]), &n), -EINVAL);
}

#define NAMED(persistent)                                                                                \
	NET_HEAD "{\"id\":1,\"kind\":\"named_tap\",\"ifname\":\"fc-vm1\",\"mac\":\"02:00:00:00:00:01\"," \
		 "\"uid\":1000,\"pid\":1,\"label\":\"\",\"ifindex\":9,\"host\":2" persistent             \
		 "}" NET_TAIL

/* "persistent" is kept; absent (an older daemon's record) it is false; anything but a bool is refused. */
static void test_parse_persistent(void **state)
{
	static const char yes[] = NAMED(",\"persistent\":true");
	static const char old[] = NAMED("");
	static const char *const bad[] = { NAMED(",\"persistent\":1"), NAMED(",\"persistent\":null") };
	struct state_network n;

	parse(yes, &n);
	assert_true(n.leases[0].persistent);
	assert_string_equal(n.leases[0].ifname, "fc-vm1");
	state_network_clear(&n);
	parse(old, &n);
	assert_false(n.leases[0].persistent);
	state_network_clear(&n);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_int_equal(state_parse(bad[i], strlen(bad[i]), &n), -EINVAL);
}

static void test_replay_add_del(void **state)
{
	_cleanup_free_ char *text =
		snapshot((unsigned int[]){ 1, 2, 3 }, (unsigned int[]){ 0, 1, 2 }, 3);
	_cleanup_free_ char *a4 = add_line(4, 3), *a5 = add_line(5, 4), *journal = NULL;
	struct state_network n;

	if (asprintf(&journal, "%s{\"del\":2}\n%s{\"del\":4}\n", a4, a5) < 0)
		fail();
	parse(text, &n);
	assert_int_equal(replay(&n, journal), 0);
	/* The others keep their order; additions come last. */
	assert_ids(&n, (unsigned int[]){ 1, 3, 5 }, 3);
	assert_string_equal(n.leases[2].ifname, "vmtap4");
	assert_string_equal(n.leases[2].label, "vm4");
	state_network_clear(&n);
}

/* Many additions to a snapshot with room for few: the array grows. */
static void test_replay_grows(void **state)
{
	_cleanup_free_ char *text = snapshot(NULL, NULL, 0);
	struct state_network n;

	parse(text, &n);
	for (unsigned int i = 1; i <= 200; i++) {
		_cleanup_free_ char *a = add_line(i, i % 250);

		assert_int_equal(replay(&n, a), 0);
	}
	assert_int_equal(n.n_leases, 200);
	assert_int_equal(n.leases[199].id, 200);
	state_network_clear(&n);
}

/*
 * The daemon died between renaming a snapshot into place and emptying the
 * journal: every line is replayed over a snapshot that holds it already.
 */
static void test_replay_is_idempotent(void **state)
{
	_cleanup_free_ char *before = snapshot((unsigned int[]){ 1, 2 }, (unsigned int[]){ 0, 1 }, 2);
	_cleanup_free_ char *after = snapshot((unsigned int[]){ 1, 3 }, (unsigned int[]){ 0, 2 }, 2);
	_cleanup_free_ char *a3 = add_line(3, 2), *a4 = add_line(4, 3), *journal = NULL;
	struct state_network n, m;

	/* 4 came and went; 2 went; 3 came. */
	if (asprintf(&journal, "%s%s{\"del\":4}\n{\"del\":2}\n", a4, a3) < 0)
		fail();
	parse(before, &n);
	assert_int_equal(replay(&n, journal), 0);
	assert_ids(&n, (unsigned int[]){ 1, 3 }, 2);
	/* Twice is once. */
	assert_int_equal(replay(&n, journal), 0);
	assert_ids(&n, (unsigned int[]){ 1, 3 }, 2);
	/* Over the snapshot that holds it all already. */
	parse(after, &m);
	assert_int_equal(replay(&m, journal), 0);
	assert_ids(&m, (unsigned int[]){ 1, 3 }, 2);
	for (size_t i = 0; i < 2; i++)
		assert_memory_equal(&n.leases[i], &m.leases[i], sizeof(n.leases[i]));
	state_network_clear(&n);
	state_network_clear(&m);
}

/* The daemon died in the middle of a write(): the part is skipped, the rest stands. */
static void test_replay_torn_last_line(void **state)
{
	_cleanup_free_ char *text = snapshot((unsigned int[]){ 1 }, (unsigned int[]){ 0 }, 1);
	_cleanup_free_ char *a2 = add_line(2, 1), *a3 = add_line(3, 2), *journal = NULL;
	struct state_network n;

	if (asprintf(&journal, "%s%.*s", a2, (int)strlen(a3) - 1, a3) < 0) /* no newline */
		fail();
	parse(text, &n);
	assert_int_equal(replay(&n, journal), 1);
	assert_ids(&n, (unsigned int[]){ 1, 2 }, 2);
	/* Cut anywhere, even where what is left would parse. */
	for (size_t cut = 0; cut < strlen(a3); cut++) {
		_cleanup_free_ char *torn = strndup(a3, cut);

		assert_int_equal(replay(&n, torn), cut ? 1 : 0);
		assert_ids(&n, (unsigned int[]){ 1, 2 }, 2);
	}
	assert_int_equal(replay(&n, "{\"del\":1}"), 1);
	assert_ids(&n, (unsigned int[]){ 1, 2 }, 2);
	state_network_clear(&n);
}

static void test_replay_unknown_and_malformed(void **state)
{
	_cleanup_free_ char *text = snapshot((unsigned int[]){ 1, 2 }, (unsigned int[]){ 0, 1 }, 2);
	_cleanup_free_ char *no_id = add_line(0, 5), *replace = add_line(2, 7), *journal = NULL;
	struct state_network n;

	if (asprintf(&journal,
		     "{\"del\":99}\n"           /* unknown: nothing to do */
		     "garbage\n"                /* skipped */
		     "\n"                       /* skipped */
		     "{\"del\":0}\n"            /* no such id can exist: skipped */
		     "{\"del\":\"1\"}\n"        /* skipped */
		     "{\"add\":7}\n"            /* skipped */
		     "{\"del\":1,\"add\":{}}\n" /* one change per line: skipped */
		     "{\"del\":1,\"del\":1}\n"  /* duplicate key: skipped */
		     "{\"set\":1}\n"            /* a newer daemon's: skipped */
		     "[]\n"                     /* skipped */
		     "%s"                       /* an add without an id: skipped */
		     "%s",                      /* add of a known id: replaces it */
		     no_id, replace) < 0)
		fail();
	parse(text, &n);
	assert_int_equal(replay(&n, journal), 10);
	assert_ids(&n, (unsigned int[]){ 1, 2 }, 2);
	assert_string_equal(n.leases[1].ifname, "vmtap7");
	state_network_clear(&n);
}

/* An older daemon's snapshot (no ids), then this daemon's journal. */
static void test_replay_over_old_snapshot(void **state)
{
	_cleanup_free_ char *text = snapshot((unsigned int[]){ 0, 0 }, (unsigned int[]){ 0, 1 }, 2);
	_cleanup_free_ char *a7 = add_line(7, 2), *journal = NULL;
	struct state_network n;

	if (asprintf(&journal, "%s{\"del\":3}\n", a7) < 0)
		fail();
	parse(text, &n);
	assert_int_equal(replay(&n, journal), 0);
	assert_ids(&n, (unsigned int[]){ 0, 0, 7 }, 3);
	state_network_clear(&n);
}

static bool exists(const char *dir, const char *file)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return access(path, F_OK) == 0;
}

/* The files: snapshot, journal appended to, read back replayed; forgotten both. */
static void test_files(void **state)
{
	char dir[] = "/tmp/test-state.XXXXXX";
	_cleanup_free_ char *text = snapshot((unsigned int[]){ 1, 2 }, (unsigned int[]){ 0, 1 }, 2);
	_cleanup_free_ char *l3 = lease(3, 2);
	struct state_network *v = NULL;
	json_t *doc, *rec;
	size_t count = 0;
	struct stat st;
	int fd;

	assert_non_null(mkdtemp(dir));
	doc = json_loads(text, 0, NULL);
	rec = json_loads(l3, 0, NULL);
	assert_non_null(doc);
	assert_non_null(rec);
	assert_int_equal(state_save(dir, "shared", doc), 0);
	fd = state_journal_open(dir, "shared");
	assert_true(fd >= 0);
	assert_int_equal(state_journal_add(fd, rec), 0);
	assert_int_equal(state_journal_del(fd, 1), 0);

	assert_int_equal(state_load_all(dir, &v, &count), 0);
	assert_int_equal(count, 1);
	assert_ids(&v[0], (unsigned int[]){ 2, 3 }, 2);
	assert_int_equal(v[0].journal_skipped, 0);
	assert_int_equal(v[0].journal_error, 0);
	state_network_clear(&v[0]);
	free(v);

	/* Private: it names every client. */
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Reset: what the snapshot alone says. */
	assert_int_equal(state_journal_reset(fd), 0);
	assert_int_equal(state_load_all(dir, &v, &count), 0);
	assert_ids(&v[0], (unsigned int[]){ 1, 2 }, 2);
	state_network_clear(&v[0]);
	free(v);
	/* Opening empties it too: a new network of an old name starts afresh. */
	assert_int_equal(state_journal_del(fd, 1), 0);
	safe_close(fd);
	fd = state_journal_open(dir, "shared");
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	safe_close(fd);

	state_forget(dir, "shared");
	assert_false(exists(dir, "shared.state"));
	assert_false(exists(dir, "shared.journal"));
	assert_int_equal(rmdir(dir), 0);
	json_decref(doc);
	json_decref(rec);
}

/* A journal with no snapshot is no record. */
static void test_journal_alone_is_ignored(void **state)
{
	char dir[] = "/tmp/test-state.XXXXXX";
	_cleanup_free_ char *l3 = lease(3, 2);
	struct state_network *v = NULL;
	size_t count = 7;
	json_t *rec = json_loads(l3, 0, NULL);
	int fd;

	assert_non_null(mkdtemp(dir));
	fd = state_journal_open(dir, "shared");
	assert_true(fd >= 0);
	assert_int_equal(state_journal_add(fd, rec), 0);
	safe_close(fd);
	assert_int_equal(state_load_all(dir, &v, &count), 0);
	assert_int_equal(count, 0);
	free(v);
	state_forget(dir, "shared");
	assert_int_equal(rmdir(dir), 0);
	json_decref(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ids),
		cmocka_unit_test(test_parse_old_snapshot_without_ids),
		cmocka_unit_test(test_parse_refuses_bad_ids),
		cmocka_unit_test(test_parse_forwards),
		cmocka_unit_test(test_parse_persistent),
		cmocka_unit_test(test_parse_range_and_domain),
		cmocka_unit_test(test_replay_add_del),
		cmocka_unit_test(test_replay_grows),
		cmocka_unit_test(test_replay_is_idempotent),
		cmocka_unit_test(test_replay_torn_last_line),
		cmocka_unit_test(test_replay_unknown_and_malformed),
		cmocka_unit_test(test_replay_over_old_snapshot),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_journal_alone_is_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
