/* frr.h - the broker's part of a running FRR: kept as the EVPN spans want it, and its state */
#ifndef VMNET_FRR_H
#define VMNET_FRR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "frr-plan.h"

struct frr;

/**
 * frr_new() - keep the broker's part of the FRR whose vty sockets are in @dir
 * @dir:	FRR's run directory (vty sockets, pid files); NULL: FRR's own
 *		(FRR_RUN_DIR). bgpd coming up there is watched for.
 * @stale:	an earlier daemon may have left its part (there are EVPN span
 *		files): the first frr_set() removes what it no longer wants
 *
 * Otherwise nothing is asked of FRR until frr_set() wants something.
 * Return: 0 or negative errno.
 */
int frr_new(sd_event *event, const char *dir, bool stale, struct frr **ret);
struct frr *frr_free(struct frr *f);
static inline void frr_freep(struct frr **f)
{
	frr_free(*f);
}

#define FRR_RUN_DIR "/run/frr"

/**
 * frr_set() - make bgpd hold what @want says, from now on
 *
 * Off the event loop (vtysh.c), and again whenever bgpd starts anew,
 * until it holds. An empty @want removes the broker's part. @want is
 * copied; its advertise_ours is kept by frr.c itself.
 */
void frr_set(struct frr *f, const struct frr_want *want);

/* Whether a vtysh runs or a reconciliation is due: the event loop still has work for FRR. */
bool frr_busy(const struct frr *f);

/* Ask FRR for its sessions and VTEPs again, unless the last answer is fresh. */
void frr_refresh(struct frr *f);

/* {"state": "configured"|"pending"|"unreachable"|"refused", "message": ...} for `status`. */
json_t *frr_health_json(const struct frr *f);
/* The BGP session with @addr as FRR last told: {"state", "uptime", "prefixes"}; NULL if none. */
json_t *frr_session_json(const struct frr *f, uint32_t addr);
/* Whether FRR last told that @addr is a remote VTEP of @vni. */
bool frr_vtep_known(const struct frr *f, uint32_t vni, uint32_t addr);

#endif
