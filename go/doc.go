// Package vmnetbroker is the Go client of vmnet-brokerd, the daemon that
// shares virtual networks between VM tools on Linux.
//
// A VM tool asks the broker for a network by name ("shared", "host", or one
// configured in /etc/vmnet-broker.d) and gets back a port on it: by default
// a TAP file attached to the network's bridge, which it hands to the VM. The
// network is created on first use, shared by every client that names it,
// and removed after the last port is gone.
//
//	port, err := vmnetbroker.Acquire(ctx, "shared", &vmnetbroker.AcquireOptions{
//		MAC: "52:54:00:12:34:56",
//	})
//	if err != nil {
//		return err
//	}
//	defer port.Close()
//	cmd := exec.Command("qemu-system-x86_64",
//		"-netdev", "tap,id=n0,fd=3",
//		"-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56", ...)
//	cmd.ExtraFiles = []*os.File{port.File()} // fd 3 in the child
//
// The tap lease lasts as long as some process holds the TAP, so the
// launcher may close its copy once the VM runs. The guest gets
// port.Address by DHCP when it uses port.MAC; with a MAC of its own it gets
// an address of the network's dynamic range, which WaitAddress tells once
// the guest has it:
//
//	w, err := vmnetbroker.WaitAddress(ctx, &vmnetbroker.WaitOptions{Ifname: port.Ifname})
//	// w.Address, and w.Lease.Guests: every MAC behind the port and its addresses
//
// Failures are *Error values
// with a status Code named as in the macOS vmnet-broker and the C library;
// errors.Is(err, vmnetbroker.ErrNotFound) and the like tell them apart.
// Every call takes a context.Context that bounds it.
//
// The socket is $VMNET_BROKER_SOCKET, else /run/vmnet-broker/broker.sock
// (Client.Socket overrides both). The package speaks protocol version 1
// (docs/protocol.md of the project) with the standard library only: no cgo.
package vmnetbroker
