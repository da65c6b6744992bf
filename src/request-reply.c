/* request-reply.c - where module codes become contract statuses, and errors messages
 *
 * Positive module codes (util.h's ranges) are expected outcomes with a
 * status of their own; handlers that understand a failure say so with
 * request_fail(); any other code is INTERNAL_ERROR. Every handler of
 * request.c and request-manage.c answers through these two.
 */
#include <stdarg.h>
#include <stdio.h>

#include "access.h"
#include "broker.h"
#include "config.h"
#include "forward.h"
#include "guest.h"
#include "network.h"
#include "port.h"
#include "protocol.h"
#include "request-reply.h"
#include "span.h"
#include "util.h"

int status_from(int code)
{
	switch (code) {
	case PROTOCOL_E_INVALID:
	case PORT_E_NOT_NETNS:
	case PORT_E_NETNS_O_PATH:
	case NETWORK_E_FORWARD_HOST_ONLY:
	case NETWORK_E_FORWARD_NO_ADDRESS:
		return VMNET_BROKER_INVALID_REQUEST;
	case CONFIG_E_NOT_FOUND:
	case CONFIG_E_INVALID:
	case NETWORK_E_FORWARD_UNKNOWN:
	case SPAN_E_NOT_LISTED:
	case SPAN_E_AMBIGUOUS:
		return VMNET_BROKER_NOT_FOUND;
	case ACCESS_E_DENIED:
	case PORT_E_NOT_OWNER:
	case FORWARD_E_CLOSED:
	case FORWARD_E_NOT_LISTED:
	case FORWARD_E_PRIVILEGED:
	case FORWARD_E_OUT_OF_RANGE:
		return VMNET_BROKER_NOT_ALLOWED;
	case NETWORK_E_POOL_EXHAUSTED:
	case NETWORK_E_NO_ADDRESS:
	case BROKER_E_NETWORKS:
	case BROKER_E_NETWORK_PORTS:
	case BROKER_E_USER_PORTS:
	case BROKER_E_HOLDS:
	case NETWORK_E_FORWARDS_FULL:
		return VMNET_BROKER_LIMIT_EXCEEDED;
	case NETWORK_E_SUBNET_IN_USE:
	case NETWORK_E_SUBNET_TAKEN:
	case NETWORK_E_PREFIX_TAKEN:
	case NETWORK_E_FORWARD_TAKEN:
	case FORWARD_E_RESERVED:
	case FORWARD_E_HOST_LISTENER:
	case NETWORK_E_MAC_TAKEN:
	case NETWORK_E_ADDRESS_TAKEN:
	case PORT_E_IFNAME_TAKEN:
	case SPAN_E_UNDERLAY_MTU:
		return VMNET_BROKER_CONFLICT;
	case GUEST_E_PORT_FULL:
		return VMNET_BROKER_LIMIT_EXCEEDED;
	default:
		return VMNET_BROKER_INTERNAL_ERROR;
	}
}

int request_fail(struct reply *rp, int status, const char *fmt, ...)
{
	va_list ap;
	int n;

	rp->status = status;
	va_start(ap, fmt);
	n = vsnprintf(rp->message, sizeof(rp->message), fmt, ap);
	va_end(ap);
	/*
	 * The message quotes paths and names that may be long, and may hold
	 * bytes that are not UTF-8 (a file name). Cut where vsnprintf() did, it
	 * may end in half a character: either way the reply would not be JSON,
	 * and a client would wait for it forever.
	 */
	if (n >= (int)sizeof(rp->message))
		utf8_truncate(rp->message, sizeof(rp->message) - 2);
	utf8_sanitize(rp->message);
	return status;
}
