/* adopt.h - taking over what an earlier daemon left: networks, ports, dnsmasq */
#ifndef VMNET_ADOPT_H
#define VMNET_ADOPT_H

#include "broker.h"

/**
 * broker_adopt() - adopt the networks and leases recorded in the state dir
 * that the kernel still has; remove what no record claims
 * Return: 0 or negative errno (only when nothing could be read at all).
 */
int broker_adopt(struct broker *b);

#endif
