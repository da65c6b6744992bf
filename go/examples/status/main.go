// Command status prints the broker's running networks and their leases, as
// `vmnet-broker status` does, through package vmnetbroker.
//
//	status [-socket PATH] [-networks]
//
// With -networks it lists every network the daemon can create instead.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"vmnet-broker.invalid/vmnetbroker"
)

func main() {
	socket := flag.String("socket", "", "the daemon's socket (default $VMNET_BROKER_SOCKET, else "+vmnetbroker.DefaultSocket+")")
	networks := flag.Bool("networks", false, "list the networks the daemon can create")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &vmnetbroker.Client{Socket: *socket}
	if *networks {
		nets, err := c.Networks(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "status:", err)
			os.Exit(1)
		}
		for _, n := range nets.Networks {
			state := "inactive"
			if n.Active {
				state = "active"
			}
			if len(n.Errors) > 0 {
				state = "invalid"
			}
			fmt.Printf("%-16s %-7s %-10s %s\n", n.Name, n.Mode, state, n.Source)
		}
		return
	}
	st, err := c.Status(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "status:", err)
		os.Exit(1)
	}
	if len(st.Networks) == 0 {
		fmt.Println("No network is up.")
	}
	for _, n := range st.Networks {
		fmt.Printf("%s %s %s %s/%s %s\n", n.Name, n.Mode, n.Bridge, n.Subnet, n.Mask, n.State)
		for _, l := range n.Leases {
			if l.Hidden {
				fmt.Printf("    %-9s %-15s (another user's)\n", l.Kind, l.Ifname)
				continue
			}
			label := ""
			if l.Label != nil {
				label = *l.Label
			}
			fmt.Printf("    %-9s %-15s %-17s %-15s uid %d pid %d %s\n", l.Kind, l.Ifname, l.MAC, l.Address,
				*l.UID, *l.PID, label)
			// What is behind the port, with the addresses it uses.
			for _, g := range l.Guests {
				fmt.Printf("        guest %s %v %v %s\n", g.MAC, g.IPv4, g.IPv6, g.Hostname)
			}
		}
	}
}
