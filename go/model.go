package vmnetbroker

import (
	"encoding/json"
	"os"
)

// PortKind is what an acquire gives the client.
type PortKind string

// The port kinds.
const (
	// PortTAP is a TAP fd (one per queue) attached to the network's bridge;
	// the lease lasts while some process holds it. The default.
	PortTAP PortKind = "tap"
	// PortNetns is a veth end put into the client's network namespace;
	// the lease lasts while the namespace does.
	PortNetns PortKind = "netns"
	// PortNamedTAP is a persistent TAP owned by the client's uid, by name
	// (for Firecracker, libvirt type='ethernet'); the lease lasts while the
	// connection is open.
	PortNamedTAP PortKind = "named_tap"
	// PortNone is no port, only a hold on the network while the connection
	// is open.
	PortNone PortKind = "none"
)

// PortForward is a host port forwarded to a port's address while its lease
// lives. In a request InternalAddress stays empty: the port's own address is
// meant; replies fill it in.
type PortForward struct {
	Protocol        string `json:"protocol"` // "tcp" or "udp"
	ExternalPort    int    `json:"external_port"`
	InternalAddress string `json:"internal_address,omitempty"`
	InternalPort    int    `json:"internal_port"`
	// InternalAddress6 is, in replies, the guest's SLAAC address (the
	// EUI-64 of its MAC in the network's /64) that the IPv6 forward goes
	// to; empty where the network advertises no /64.
	InternalAddress6 string `json:"internal_address6,omitempty"`
	// HostListener is, in status, true when a service of the host listens
	// on ExternalPort: outside traffic for it reaches the guest, not the
	// service (root forwarded it anyway, or the service came later).
	HostListener bool `json:"host_listener,omitempty"`
}

// Network is a running network as an acquire reply describes it. Members the
// reply left out are empty.
type Network struct {
	Name        string `json:"name,omitempty"`
	Mode        string `json:"mode,omitempty"`   // "shared" or "host"
	Bridge      string `json:"bridge,omitempty"` // the kernel bridge, e.g. "vmbr0"
	Subnet      string `json:"subnet,omitempty"` // the gateway (host) address
	Mask        string `json:"mask,omitempty"`
	IPv6Prefix  string `json:"ipv6_prefix,omitempty"`
	PrefixLen   int    `json:"prefix_len,omitempty"`
	MTU         int    `json:"mtu,omitempty"`
	Description string `json:"description,omitempty"` // the network file's, if any
	Domain      string `json:"domain,omitempty"`      // its guests' names are NAME.Domain; "" when it serves none
}

// PortInfo is the port an acquire made.
type PortInfo struct {
	Kind         PortKind      `json:"kind"`
	Ifname       string        `json:"ifname,omitempty"`  // the TAP, the veth's host end, the named TAP
	MAC          string        `json:"mac,omitempty"`     // e.g. "52:54:00:12:34:56"
	Address      string        `json:"address,omitempty"` // reserved for the MAC in DHCP; "" without DHCP
	PortForwards []PortForward `json:"port_forwards,omitempty"`
	// LeaseID names the lease for Release and the Forward calls.
	LeaseID uint64 `json:"lease_id,omitempty"`
	// Persistent: the lease outlives its connection (AcquireOptions.Persistent).
	Persistent bool `json:"persistent,omitempty"`
}

// Guest is a MAC seen behind a port, whatever it is (the VM with the port's
// MAC or its own, a container or VM inside it), with the addresses it uses,
// as virsh domifaddr shows them.
type Guest struct {
	MAC      string   `json:"mac"`
	OnBridge bool     `json:"on_bridge"`          // the bridge has it now; false: quiet a while
	IPv4     []string `json:"ipv4"`               // its DHCP lease first, then the neighbour table's
	IPv6     []string `json:"ipv6"`               // the neighbour table's (SLAAC)
	Hostname string   `json:"hostname,omitempty"` // the host name it sent in DHCP
}

// Lease is one lease in a status reply, and the lease Release and the
// Forward calls answer with (which names its NetworkName). Another user's
// lease, as a caller that is not root sees it in status, is Hidden: only
// its Kind and Ifname are shown.
type Lease struct {
	Kind         string        `json:"kind"`
	Ifname       string        `json:"ifname,omitempty"`
	MAC          string        `json:"mac,omitempty"`
	Address      string        `json:"address,omitempty"` // reserved for MAC
	UID          *int          `json:"uid,omitempty"`
	PID          *int          `json:"pid,omitempty"`
	Label        *string       `json:"label,omitempty"`
	Hidden       bool          `json:"hidden,omitempty"`
	PortForwards []PortForward `json:"port_forwards,omitempty"`
	LeaseID      uint64        `json:"lease_id,omitempty"`
	Persistent   bool          `json:"persistent,omitempty"`
	NetworkName  string        `json:"network_name,omitempty"`
	Guests       []Guest       `json:"guests,omitempty"` // what is behind the port
	Names        []string      `json:"names,omitempty"`  // its guests' DNS names, NAME.DOMAIN
}

// Ref names the lease: by ID, or by Ifname, its port as status shows it.
func (l *Lease) Ref() LeaseRef {
	return LeaseRef{ID: l.LeaseID}
}

// LeaseRef names a lease for Release and the Forward calls: by its port's
// interface, as status shows it (the host end: vmtapN, vmvethN, a named
// TAP), or by its id. Exactly one of them; the zero value, for
// ForwardList only, means every lease of the caller's.
type LeaseRef struct {
	Ifname string
	ID     uint64
}

// StopReply is the reply of StopNetwork: the network as it ran, and the
// leases that ended with it.
type StopReply struct {
	Network     Network `json:"network"`
	EndedLeases []Lease `json:"ended_leases"`
}

// WaitReply is the reply of a wait_address: the address the guest behind
// the port uses, and the lease as status shows it.
type WaitReply struct {
	Address     string `json:"address"`
	NetworkName string `json:"network_name"`
	Lease       Lease  `json:"lease"`
}

// SpanPeer is another host of a span, as this host sees it.
type SpanPeer struct {
	Address string `json:"address"` // its underlay address
	// State is "configured" (static), or for EVPN the BGP session's state
	// as FRR names it, lower case ("established", "active", "connect",
	// "idle", ...), "unknown" before FRR answered, or "via-reflector" for a
	// host this one does not peer with.
	State    string `json:"state"`
	Uptime   string `json:"uptime,omitempty"`   // EVPN: how long the session is up, FRR's words
	Prefixes *int   `json:"prefixes,omitempty"` // EVPN: routes received from it
	VTEP     *bool  `json:"vtep,omitempty"`     // EVPN: FRR floods to it for this VNI
}

// SpanFRR is the state of the broker's part of FRR, for an EVPN span.
type SpanFRR struct {
	State   string `json:"state"`             // "pending", "configured", "unreachable" or "refused"
	Message string `json:"message,omitempty"` // why, for a person
}

// Span is this host's side of a network that spans hosts.
type Span struct {
	VNI     int    `json:"vni"`
	Control string `json:"control"` // "static" or "evpn"
	VXLAN   string `json:"vxlan"`   // the VXLAN device on the bridge
	Local   string `json:"local"`   // this host's underlay address
	Port    int    `json:"port"`    // UDP port of the underlay
	Slice   string `json:"slice,omitempty"`
	// NamesAddress is where this host answers the other hosts for its
	// guests' names, NamesPID the dnsmasq answering there (0: restarting).
	NamesAddress string     `json:"names_address,omitempty"`
	NamesPID     *int       `json:"names_pid,omitempty"`
	Peers        []SpanPeer `json:"peers"`
	FRR          *SpanFRR   `json:"frr,omitempty"`
}

// NetworkStatus is a running network in a status reply, with its leases.
type NetworkStatus struct {
	Network
	State         string  `json:"state,omitempty"`          // "active", or "idle": no lease, removal pending
	IdleRemaining *int    `json:"idle_remaining,omitempty"` // seconds until an idle network goes
	DnsmasqPID    *int    `json:"dnsmasq_pid,omitempty"`
	Leases        []Lease `json:"leases"`
	Span          *Span   `json:"span,omitempty"` // when the network spans hosts
}

// StatusReply is the reply of status: every running network, and what the
// daemon found of the host's firewalls (nil from a daemon before it).
type StatusReply struct {
	Version  int             `json:"version,omitempty"`
	Networks []NetworkStatus `json:"networks"`
	Host     *HostStatus     `json:"host,omitempty"`
}

// HostStatus is what the daemon found of the host's other firewalls and
// what it did about them: its table restored after someone removed it,
// accept rules kept in iptables where Docker, ufw or a policy would drop
// guests' traffic, the bridges in firewalld's zone, a DNS server of the
// host on port 53.
type HostStatus struct {
	Forwarding        PerFamily        `json:"forwarding"`             // net.ipv4.ip_forward, net.ipv6.conf.all.forwarding
	BrNetfilter       *PerFamily       `json:"br_netfilter,omitempty"` // nil when the module is not loaded
	NFTables          NFTablesStatus   `json:"nftables"`
	IPTables          []IPTablesStatus `json:"iptables"` // each backend and family whose filter table exists
	Firewalld         FirewalldStatus  `json:"firewalld"`
	ForeignDropChains []NFTChain       `json:"foreign_drop_chains"` // others' base chains that drop, not opened by the broker
	DNS               DNSStatus        `json:"dns"`
	Detected          []string         `json:"detected"` // "docker", "ufw", "firewalld"
}

// PerFamily is a setting for IPv4 and IPv6; nil where the host has none.
type PerFamily struct {
	IPv4 *bool `json:"ipv4,omitempty"`
	IPv6 *bool `json:"ipv6,omitempty"`
}

// HostEvent is one thing the daemon did about the host's firewall: when
// (UTC, RFC 3339), why, and what it did.
type HostEvent struct {
	Time       string `json:"time"`
	Cause      string `json:"cause"`
	What       string `json:"what,omitempty"`
	DurationMS *int   `json:"duration_ms,omitempty"`
}

// NFTablesStatus is the broker's table inet vmnet_broker.
type NFTablesStatus struct {
	Table       bool       `json:"table"`    // it exists
	Restores    int        `json:"restores"` // times restored after someone else changed it
	Backoff     int        `json:"backoff"`  // seconds a pending restore waits, 0 when none
	LastRestore *HostEvent `json:"last_restore,omitempty"`
}

// IPTablesStatus is one iptables backend ("nft", "legacy") and family
// ("ipv4", "ipv6"), and the broker's accept rules in it.
type IPTablesStatus struct {
	Backend       string     `json:"backend"`
	Family        string     `json:"family"`
	ForwardPolicy string     `json:"forward_policy,omitempty"` // "accept" or "drop"
	InputPolicy   string     `json:"input_policy,omitempty"`
	JumpFrom      string     `json:"jump_from,omitempty"` // "DOCKER-USER" or "FORWARD"; "" when not needed
	InputJump     bool       `json:"input_jump"`
	InPlace       bool       `json:"in_place"`
	Error         string     `json:"error,omitempty"`
	LastFix       *HostEvent `json:"last_fix,omitempty"`
}

// FirewalldStatus is firewalld and the broker's zone in it.
type FirewalldStatus struct {
	Running     bool       `json:"running"`
	Zone        string     `json:"zone"`
	ZonePresent bool       `json:"zone_present"`
	Interfaces  []string   `json:"interfaces"` // bridges firewalld confirmed in the zone
	LastApply   *HostEvent `json:"last_apply,omitempty"`
	Error       string     `json:"error,omitempty"`
}

// NFTChain is a base chain of another nftables table.
type NFTChain struct {
	Family string `json:"family"`
	Table  string `json:"table"`
	Chain  string `json:"chain"`
	Hook   string `json:"hook"` // "forward" or "input"
}

// DNSStatus says whether a DNS server of the host holds port 53 of every
// address, and which networks' dnsmasq listen on AlternatePort instead.
type DNSStatus struct {
	WildcardListener bool     `json:"wildcard_listener"`
	AlternatePort    int      `json:"alternate_port"`
	Networks         []string `json:"networks"`
}

// Network returns the running network named name, or nil.
func (s *StatusReply) Network(name string) *NetworkStatus {
	for i := range s.Networks {
		if s.Networks[i].Name == name {
			return &s.Networks[i]
		}
	}
	return nil
}

// ConfigError is a problem of a network file; Key is "" for the whole file.
type ConfigError struct {
	File   string `json:"file"`
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// NetworkEntry is a network the daemon knows how to create.
type NetworkEntry struct {
	Name          string        `json:"name"`
	Mode          string        `json:"mode,omitempty"` // "" when a broken file does not say
	Source        string        `json:"source"`         // "builtin", or the file's path
	Description   string        `json:"description,omitempty"`
	CIDR          string        `json:"cidr,omitempty"`      // "192.168.64.0/24": running, or the file's; "" from the pool
	IPv6CIDR      string        `json:"ipv6_cidr,omitempty"` // the same for the IPv6 prefix
	Persistent    bool          `json:"persistent"`          // created at start, never removed for idleness
	Active        bool          `json:"active"`              // it runs now
	PendingChange bool          `json:"pending_change"`      // it runs, and its file changed since
	Errors        []ConfigError `json:"errors"`              // a network with errors cannot be acquired
}

// NetworksReply is the reply of networks: the built-ins, then each file in
// name order, then running networks whose file is gone.
type NetworksReply struct {
	Networks []NetworkEntry `json:"networks"`
}

// Get returns the entry named name, or nil.
func (n *NetworksReply) Get(name string) *NetworkEntry {
	for i := range n.Networks {
		if n.Networks[i].Name == name {
			return &n.Networks[i]
		}
	}
	return nil
}

// acquireReply is the JSON of an acquire reply.
type acquireReply struct {
	Network *struct {
		Network
		Port *PortInfo `json:"port"`
	} `json:"network"`
}

// Port is an acquired port: what the daemon said about it and its network,
// and the TAP files it sent (one per queue for PortTAP, none otherwise).
// Close closes the files not taken and the connection, which ends a
// named_tap or none lease. A tap lease lives on while any process holds a
// TAP (give it to the VM, or take it with TakeFiles); a netns lease while
// the namespace lives.
type Port struct {
	Network Network
	PortInfo
	// Files are the TAP fds, owned by the Port until taken or closed.
	Files []*os.File
	// Reply is the daemon's reply as it came.
	Reply json.RawMessage

	conn *Conn
}

// File returns the first TAP file, or nil when there is none (another kind,
// or taken).
func (p *Port) File() *os.File {
	if len(p.Files) == 0 {
		return nil
	}
	return p.Files[0]
}

// TakeFiles returns the files, which are then the caller's to close.
func (p *Port) TakeFiles() []*os.File {
	f := p.Files
	p.Files = nil
	return f
}

// Conn returns the connection the port was acquired on: for a named_tap or
// none port, the connection that holds the lease (more requests may go over
// it); nil once closed, and for tap and netns ports, whose leases do not
// need it (it is closed as soon as their reply is in).
func (p *Port) Conn() *Conn { return p.conn }

// Close closes the files not taken and the connection.
func (p *Port) Close() error {
	closeFiles(p.Files)
	p.Files = nil
	if p.conn == nil {
		return nil
	}
	err := p.conn.Close()
	p.conn = nil
	return err
}
