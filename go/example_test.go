package vmnetbroker_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"time"

	"vmnet-broker.invalid/vmnetbroker"
)

// A TAP on the shared network, handed to QEMU as fd 3.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const mac = "52:54:00:12:34:56"
	port, err := vmnetbroker.Acquire(ctx, "shared", &vmnetbroker.AcquireOptions{MAC: mac, Label: "vm1"})
	if err != nil {
		log.Fatal(err)
	}
	defer port.Close()
	fmt.Printf("%s on %s, address %s\n", port.Ifname, port.Network.Bridge, port.Address)
	cmd := exec.Command("qemu-system-x86_64", "-nographic",
		"-netdev", "tap,id=n0,fd=3", "-device", "virtio-net-pci,netdev=n0,mac="+mac)
	cmd.ExtraFiles = []*os.File{port.File()}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	// QEMU holds the TAP now; the lease lasts until it exits.
	port.Close()
	cmd.Wait()
}

// Tell failures apart by their status code.
func ExampleAcquire_errors() {
	_, err := vmnetbroker.Acquire(context.Background(), "lab", nil)
	switch {
	case errors.Is(err, vmnetbroker.ErrNotFound):
		fmt.Println("no network 'lab': add /etc/vmnet-broker.d/lab.json")
	case errors.Is(err, vmnetbroker.ErrNotAllowed):
		fmt.Println("not allowed: ask to be added to the network's allowed_users")
	case errors.Is(err, vmnetbroker.ErrConnectionFailure):
		fmt.Println("is vmnet-brokerd running?", err)
	case err != nil:
		var e *vmnetbroker.Error
		errors.As(err, &e)
		fmt.Println(e.Code, e.Message)
	}
}

// A veth end in a network namespace, with a port forward and a label.
func ExampleAcquire_netns() {
	port, err := vmnetbroker.Acquire(context.Background(), "shared", &vmnetbroker.AcquireOptions{
		NetnsPath:    "/run/netns/vm1",
		Ifname:       "eth0",
		Label:        "vm1",
		PortForwards: []vmnetbroker.PortForward{{Protocol: "tcp", ExternalPort: 2222, InternalPort: 22}},
	})
	if err != nil {
		log.Fatal(err)
	}
	// The lease lasts as long as the namespace.
	port.Close()
	fmt.Printf("eth0 in vm1 has %s; ssh -p 2222 to the host reaches its port 22\n", port.Address)
}

// A TAP with four queues, one file each, and the virtio-net header.
func ExampleAcquire_multiQueue() {
	port, err := vmnetbroker.Acquire(context.Background(), "shared",
		&vmnetbroker.AcquireOptions{MultiQueue: 4, VnetHdr: true})
	if err != nil {
		log.Fatal(err)
	}
	defer port.Close()
	fmt.Println(len(port.Files), "queues")
}

// A client of another socket.
func ExampleClient() {
	c := &vmnetbroker.Client{Socket: "/run/user/1000/vmnet-broker.sock"}
	nets, err := c.Networks(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range nets.Networks {
		fmt.Println(n.Name, n.Source, len(n.Errors) == 0)
	}
}

// Every running network and its leases.
func ExampleStatus() {
	st, err := vmnetbroker.Status(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range st.Networks {
		fmt.Printf("%s %s %s/%s: %d lease(s)\n", n.Name, n.Bridge, n.Subnet, n.Mask, len(n.Leases))
		for _, l := range n.Leases {
			if !l.Hidden {
				fmt.Printf("    %s %s %s %s\n", l.Kind, l.Ifname, l.MAC, l.Address)
			}
		}
	}
}

// Every network the daemon can create, and what is wrong with broken files.
func ExampleNetworks() {
	nets, err := vmnetbroker.Networks(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range nets.Networks {
		for _, e := range n.Errors {
			fmt.Printf("%s: %s: %s\n", e.File, e.Key, e.Reason)
		}
	}
}
