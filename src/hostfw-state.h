/* hostfw-state.h - what hostfw.c keeps of the host's firewall; hostfw-status.c shows it */
#ifndef VMNET_HOSTFW_STATE_H
#define VMNET_HOSTFW_STATE_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "hostfw.h"
#include "iptables.h"
#include "nftmon.h"

#define USEC_PER_MSEC ((uint64_t)1000)
#define USEC_PER_SEC ((uint64_t)1000000)
#define CAUSE_MAX 320
#define OWN_PIDS 16 /* our latest iptables processes, whose nftables batches are no news */

/* One thing that happened, for status. */
struct happening {
	time_t time; /* 0: never */
	char cause[CAUSE_MAX];
	char what[256];
	double ms;
};

/* What the last check of one iptables backend and family found. */
struct ipt_slot {
	bool present;
	struct ipt_report last; /* its view is cleared: only the summary is kept */
	bool checked;
	char error[256];
	struct happening fix;
};

struct net_entry {
	char name[64];
	char bridge[IFNAMSIZ];
	char names_link[IFNAMSIZ]; /* "": none */
	bool dns_alt_port;
};

struct hostfw {
	struct hostfw_env env;
	struct nftmon *mon;
	struct firewalld *fw;
	struct net_entry *nets;
	size_t n_nets;
	struct ipt_span_peer *peers; /* the spans' other hosts, each once */
	size_t n_peers;

	/* table inet vmnet_broker */
	sd_event_source *restore_timer;
	bool restore_pending;
	uint64_t first_seen, deadline, delay;
	unsigned int batches;
	char cause[CAUSE_MAX];
	unsigned int in_a_row;
	uint64_t last_restore_mono;
	unsigned int restores;
	struct happening last_restore;

	/* iptables */
	sd_event_source *ipt_timer;
	struct ipt_check *ipt;
	unsigned int ipt_slot;     /* the slot being checked: backend * 2 + family */
	bool ipt_again;            /* asked again while a check ran */
	char ipt_cause[CAUSE_MAX]; /* why the next check */
	char ipt_running_cause[CAUSE_MAX];
	struct ipt_slot slots[_IPT_BACKEND_MAX][_IPT_FAMILY_MAX];
	bool nft_filter[_IPT_FAMILY_MAX]; /* iptables-nft's table ip/ip6 filter exists */
	bool nft_filter_known; /* ... as far as nftables' events since the last dump tell */
	pid_t own[OWN_PIDS];
	unsigned int own_next;
	struct ipt_legacy_watch legacy;
	uint64_t legacy_sig[_IPT_FAMILY_MAX];
	sd_event_source *legacy_timer;

	/* firewalld */
	uint64_t fw_tried; /* when connecting to the system bus last failed (CLOCK_MONOTONIC) */
	struct happening fw_apply;
	char fw_error[256];
};

#endif
