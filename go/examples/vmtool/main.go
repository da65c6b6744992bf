// Command vmtool launches a QEMU VM the way lima and podman machine do on
// Linux, with its networks from vmnet-broker: what such a tool would add to
// get broker networks for its VMs (docs/integrations.md of the project).
//
//	vmtool -name NAME [-network shared]... [-memory 512] -kernel K [-initrd I] [-append CMDLINE] [-- EXTRA QEMU ARGS]
//
// Each -network becomes one NIC on that broker network, with a MAC derived
// from the instance name (so that the VM keeps its address across
// restarts, as lima does for its own networks). The launcher stays as the
// VM's parent, as lima's hostagent and podman's machine process do; the
// leases last as long as QEMU holds the TAPs.
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"vmnet-broker.invalid/vmnetbroker"
)

type networks []string

func (n *networks) String() string     { return strings.Join(*n, ",") }
func (n *networks) Set(v string) error { *n = append(*n, v); return nil }

// MACAddress derives a stable, locally administered unicast MAC for NIC
// index of instance name.
func MACAddress(name string, index int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", name, index)))
	return fmt.Sprintf("52:54:%02x:%02x:%02x:%02x", h[0], h[1], h[2], h[3])
}

// BrokerNetworks is the change a VM tool makes: for each network its VM is
// on, acquire a TAP from the broker and turn it into QEMU arguments. The
// files are for exec.Cmd.ExtraFiles (the first becomes fd 3 in QEMU, and so
// on); the caller closes them once QEMU runs, so that QEMU holds the only
// copies and the leases end with the VM.
func BrokerNetworks(ctx context.Context, instance string, names []string) (args []string, files []*os.File, err error) {
	defer func() {
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			files = nil
		}
	}()
	for i, network := range names {
		port, err := vmnetbroker.Acquire(ctx, network, &vmnetbroker.AcquireOptions{
			MAC:     MACAddress(instance, i),
			Label:   instance,
			VnetHdr: true,
		})
		if err != nil {
			return nil, files, fmt.Errorf("network %s: %w", network, err)
		}
		id := fmt.Sprintf("net%d", i)
		args = append(args,
			"-netdev", fmt.Sprintf("tap,id=%s,fd=%d", id, 3+len(files)),
			"-device", fmt.Sprintf("virtio-net-pci,netdev=%s,mac=%s", id, port.MAC))
		files = append(files, port.TakeFiles()...)
		port.Close() // only the connection: the TAP is in files
	}
	return args, files, nil
}

func main() {
	var nets networks
	name := flag.String("name", "default", "the instance name (labels the leases, derives the MACs)")
	flag.Var(&nets, "network", "a broker network for one NIC (repeat for more; default shared)")
	qemu := flag.String("qemu", "qemu-system-x86_64", "the QEMU binary")
	memory := flag.String("memory", "512", "guest memory, MiB")
	kernel := flag.String("kernel", "", "the guest kernel")
	initrd := flag.String("initrd", "", "the guest initrd")
	cmdline := flag.String("append", "console=ttyS0", "the kernel command line")
	flag.Parse()
	if *kernel == "" {
		fmt.Fprintln(os.Stderr, "vmtool: -kernel is needed")
		os.Exit(2)
	}
	if len(nets) == 0 {
		nets = networks{"shared"}
	}

	args := []string{"-machine", "accel=kvm:tcg", "-m", *memory, "-smp", "1", "-display", "none", "-no-reboot",
		"-nodefaults", "-no-user-config", "-serial", "stdio", "-kernel", *kernel, "-append", *cmdline}
	if *initrd != "" {
		args = append(args, "-initrd", *initrd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	netArgs, files, err := BrokerNetworks(ctx, *name, nets)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmtool:", err)
		os.Exit(1)
	}
	args = append(append(args, netArgs...), flag.Args()...)

	cmd := exec.Command(*qemu, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = files
	err = cmd.Start()
	for _, f := range files {
		f.Close() // QEMU has its own copies (or, on failure, the ports go now)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmtool:", err)
		os.Exit(1)
	}
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
		fmt.Fprintln(os.Stderr, "vmtool:", err)
		os.Exit(1)
	}
}
