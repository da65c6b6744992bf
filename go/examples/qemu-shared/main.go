// Command qemu-shared starts a QEMU guest on the broker's shared network.
//
//	qemu-shared [-network shared] [-mac 52:54:00:12:34:56] [-label L] -- qemu-system-x86_64 ARGS...
//
// It acquires a TAP port through package vmnetbroker, gives it to QEMU as
// fd 3 behind a virtio-net device with the port's MAC (so that the
// network's DHCP serves the guest the address reserved for it), and waits
// for QEMU. The lease lives as long as QEMU holds the TAP.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"vmnet-broker.invalid/vmnetbroker"
)

func main() {
	network := flag.String("network", "shared", "the broker network to put the guest on")
	mac := flag.String("mac", "52:54:00:12:34:56", "the guest's MAC address")
	label := flag.String("label", "qemu-shared", "the lease's label in vmnet-broker status")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: qemu-shared [-network NAME] [-mac MAC] [-label L] -- QEMU [ARGS...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	port, err := vmnetbroker.Acquire(ctx, *network, &vmnetbroker.AcquireOptions{MAC: *mac, Label: *label, VnetHdr: true})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "qemu-shared:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "qemu-shared: %s on %s (%s), address %s\n", port.Ifname, port.Network.Name,
		port.Network.Bridge, port.Address)

	args := append(flag.Args()[1:],
		"-netdev", "tap,id=vmnet0,fd=3",
		"-device", "virtio-net-pci,netdev=vmnet0,mac="+port.MAC)
	cmd := exec.Command(flag.Arg(0), args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{port.File()} // fd 3 in QEMU
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "qemu-shared:", err)
		os.Exit(1)
	}
	// QEMU holds the TAP now: the lease lasts as long as QEMU does.
	port.Close()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		os.Exit(exit.ExitCode())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "qemu-shared:", err)
		os.Exit(1)
	}
}
